"""The three stages of a fusion, and the engine that runs them in order.

::

    quote   price x estimated tokens for every stage, before anything is called
    panel   ask every model at once (quorum, grace, hard deadline, fallbacks)
    judge   compare the answers into a validated ``Analysis``
    writer  write one fused answer from that comparison, streamed
    engine  run the stages, publish progress events, build the ``FusionResult``

The prompts the stages send live beside them in ``prompts/``. What the stages stand on (money,
budgets, jobs, the model clients, settings) lives at the package root.
"""
