"""The live challenge service (`grade serve`): the host's file, the store and queue, the web app.

    hostfile.py   the host's challenge file (TOML) and roster (CSV), read and checked
    database.py   the SQLite file: connections, write transactions, the schema and its version
    store.py      learners and tokens, submissions, quotas, selections, the host's actions
    queue.py      the job queue in the same file: fair claims, leases, fencing, the reaper
    boards.py     the public board and, after the deadline, the final standings

The store is the system of record and the queue (no broker): a submission and its job are
written in one transaction, so nothing is lost between an upload and its grading.
"""
