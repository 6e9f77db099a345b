"""The FIX bridge (`manage.py run_fixbridge`): one QuickFIX initiator session per venue.

- outbox.py drains the order outbox to the venues (SKIP LOCKED, woken by NOTIFY);
- messages.py builds the FIX 4.4 requests from orders;
- reports.py parses what venues send; inbound.py applies it through the order services;
- application.py is the QuickFIX callback object; bridge.py wires the threads together.
"""
