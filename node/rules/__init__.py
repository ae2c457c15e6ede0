"""The pure rules a node runs over its own log: state + command → entries, or a refusal (DESIGN.md §1–§2).

``council`` is a council's governance, ``fedbody`` a federation body's roster and proposals, and
``machines`` picks one by the node's kind. No I/O, no clock: the writer passes the time in.
"""
