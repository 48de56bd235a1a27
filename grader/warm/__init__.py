"""`grade check --warm`: a helper that keeps Keras imported between a learner's checks.

    grade check --warm fashion.py
        client.py   connects to the helper of this user and environment (starting it on
                    first use), sends the request, prints what comes back
        server.py   the helper: grades each request with grader.pipeline.grade, one at a time,
                    then starts the next processes ahead; it stops after WARM_IDLE_S idle
        pool.py     the processes it started ahead: a sandboxed child that has imported
                    Keras and waits for its job, and a trusted trainer that does the same
        protocol.py where the socket is, who may use it, how messages are framed

What is kept warm is only what was imported before any submission ran. Each check gets its
own sandbox, started with the same command, environment and limits as a cold check, used for
that check and then killed with everything in it; nothing a submission did can reach the next
one (tests/test_warm.py shows it).
"""
