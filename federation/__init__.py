"""The federation layer: logs held and replicated between nodes, gossip, witnessing, aggregation.

Import direction ``node → federation → protocol``. Where things live:

    settings.py     every limit and interval (``FederationSettings``; ``node.settings.Settings`` extends it)
    errors.py       the error tree below
    db.py           one SQLite file per node: pragmas, named migrations
    store/          the logs a node holds: tables, Merkle trees as stored, ``LogStore`` reads and appends
    replica/        pages of logs served to peers and taken from them, verified whole (``Replica``)
    gossip/         anti-entropy: wire messages, the answering server, the initiating engine
    transport/      how a message reaches a peer: signed HTTP, an in-memory network, a virtual clock
    client.py       signed HTTP requests to another node (``SignedClient``)
    auth.py         signed requests in: RFC 9421, fresh, never replayed
    routes.py       the ``/v1/federation/…`` aiohttp adapter
    witness/        C2SP tlog-witness: the request texts, cosigning peers' checkpoints, collecting ours
    peers.py        the peer table: trust, URLs, backoff, penalties
    verifypool.py   signature checks on worker processes
    aggregate/      the federation body's figures: schema, folding, search, rendering

Each package re-exports its public names from its ``__init__``: import them from there.

Errors (``federation.errors``): catch by branch, each says what to do::

    FederationError
    ├── PeerDataError       bad data from a peer: drop it whole, penalise the peer (``reason``)
    │   ├── BadData         a page, entry, checkpoint or fork proof failing a check (``step``)
    │   ├── Misbehaved      a gossip message breaking the gossip protocol
    │   ├── ReplyError      a witness's answer we cannot use
    │   └── UnreadableBody  a stored public body without the shape of its kind (aggregation counts it)
    ├── TransportError      no answer: unreachable, too slow, too large — retry with backoff
    ├── Refusal             the other side answered no (``status``) — not bad data, no progress either
    │   ├── RemoteError     an error status with an ``{"error", "message"}`` body (``code``)
    │   ├── WitnessError    a witness's refusal (tlog-witness.md statuses)
    │   │   └── SizeMismatch  409: the witness holds another size (``size``)
    │   └── PeerError       a peer this node refuses to add: bad key or URL (also a ``ValueError``)
    └── LocalConflict       what this node holds forbids it
        ├── Frozen          the log is frozen: a fork proof is held (``proof``)
        ├── ForkFound       this page proved a fork: proof stored, log frozen — spread ``proof``
        └── StoreError      a write the store refuses; nothing written
            └── ForkError   two validly signed entries at one position (``federation.store``)

Foreign errors are mapped where they arise, with ``raise … from exc``: aiohttp's in ``client``, msgpack's
in ``replica.page`` and ``aggregate.bodies``, sqlite's integrity errors in ``aggregate.federation_fold``.
"""
