"""shora's wire format and proofs: bytes in, verified values out (DESIGN.md §2-§3).

Pure: no I/O beyond key files, no clock, no network, no database. Modules:

    codec    canonical msgpack and base64url
    keys     Ed25519 keys, key ids, domain-separated signing, key files
    entry    signed log entries
    merkle   RFC 9162 Merkle tree, inclusion and consistency proofs
    note     C2SP signed notes, tlog checkpoints, cosignature/v1
    httpsig  RFC 9421 request signatures with RFC 9530 Content-Digest
    bundle   the offline-verifiable decision bundle
    record   the council's record, the public twins that publish it, the gap a restore leaves
    sealed   sealed backup segments of the record and member directory (HPKE to the backup key)
    recovery the recovery file: root key and backup secret

Errors are drawn in ``protocol.errors``.
"""
