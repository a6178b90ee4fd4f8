"""The projection engine: what every read model is built on, and nothing of any one read model.

- :mod:`.projection`: a read model's contract (event classes -> handlers, tables per generation)
- :mod:`.rows`: the rows a fold reads and writes (in memory, or in a database transaction)
- :mod:`.state`: one state row per read model (serving generation, code version, position)
- :mod:`.generations`: creating, finishing and dropping a generation's tables; installing
- :mod:`.runner`: following the log in batches
- :mod:`.rebuild`, :mod:`.compare`, :mod:`.bulk_write`: blue/green rebuilds
- :mod:`.paging`: what query functions share (a connection, the serving tables, keyset pages)
- :mod:`.store`: engines on the event store's database, and column types

Which read models exist is :mod:`projections.catalog`'s business: the runner and the rebuild are
handed the projections to work on.
"""
