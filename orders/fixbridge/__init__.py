"""The FIX bridge (`manage.py run_fixbridge`): one QuickFIX initiator session per venue.

- outbox.py drains the order outbox to the venues whose session is up (SKIP LOCKED, woken by
  NOTIFY), records each message before sending it, and parks a row it cannot build;
- messages.py builds the FIX 4.4 requests from orders;
- reports.py parses what venues send; inbound.py applies it through the order services;
- application.py is the QuickFIX callback object; bridge.py wires the threads together and
  reconciles on logon; process.py adds the price watchers (what run_fixbridge runs).
"""
