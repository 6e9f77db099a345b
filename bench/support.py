"""What every bench script does the same way: a fresh database, manage.py in a child process with
the bench's environment, a free TCP port, and the smoke mode.

BENCH_SMOKE=1 is CI's smoke run: every script keeps its own knobs, smoke only lowers their
defaults (`knob`) so the whole `make bench` runs in a few minutes; its figures are not measurements,
and every table title carries SMOKE_TAG so nobody quotes them as such."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
SMOKE_TAG = " (smoke)" if SMOKE else ""


def knob(name: str, full: str, smoke: str) -> str:
    """The environment variable `name`, else the full bench's default, or the smoke default in smoke mode."""
    return os.environ.get(name, smoke if SMOKE else full)


def recreate_database(server: str, name: str) -> None:
    """DROP (forcing other sessions out) and CREATE `name` on the server URL `server`."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def manage(env: dict, *args: str) -> str:
    """`manage.py args` with `env`; its stdout, or the bench stops with what it printed."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr[-3000:]}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_asset_and_accounts(cur, asset: str, accounts: list[str]) -> None:
    """One asset (AAPL at 100) and a funded-at-zero cash account with its user for each id in
    `accounts`, written by plain SQL and COPY (the benches that generate their rows)."""
    cur.execute("INSERT INTO marketdata_asset (id, symbol, name, exchange, asset_class, status, tradable, marginable,"
                " shortable, easy_to_borrow, fractionable, last_price, prev_close) VALUES "
                "(%s, 'AAPL', 'Apple', 'NASDAQ', 'us_equity', 'active', true, true, true, true, true, 100, 100)",
                [asset])
    with cur.copy("COPY accounts_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,"
                  " is_active, date_joined) FROM STDIN") as copy:
        copy.write("".join(f"{i + 1}\t!\tf\tbench{i}\t\t\t\tf\tt\t2025-10-01 00:00:00+00\n" for i in range(len(accounts))))
    with cur.copy("COPY accounts_account (id, account_number, user_id, account_type, status, kyc_status, settled_cash,"
                  " unsettled_cash, reserved_cash, currency, created_at) FROM STDIN") as copy:
        copy.write("".join(f"{a}\tB{i:012d}\t{i + 1}\tcash\tACTIVE\tapproved\t0\t0\t0\tUSD\t2025-10-01 00:00:00+00\n"
                           for i, a in enumerate(accounts)))
