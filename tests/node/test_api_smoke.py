"""A whole assembly over real HTTP, and a bundle verified offline."""

from __future__ import annotations

from protocol import codec
from protocol.bundle import verify_bundle
from protocol.keys import PublicKey


async def test_whole_assembly_over_http(start_node) -> None:
    node = await start_node()
    op = node.operator
    ids = [
        (await op.call("POST", "/v1/admin/members", {"name": n}))["member_id"]
        for n in ("Ava", "Babak", "Chris")
    ]
    assembly = (await op.call("POST", "/v1/admin/assemblies", {"agenda": "Founding assembly"}))["assembly_id"]
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": ["Ava", "Babak", "Chris"]})
    motion = (await op.call("POST", "/v1/admin/motions", {"assembly": assembly, "text": "Hold a rally"}))[
        "motion_id"
    ]
    for member, choice in zip(ids, ("yes", "yes", "no"), strict=True):
        await op.call("POST", f"/v1/admin/motions/{motion}/votes", {"member": member, "choice": choice})
    decision = await op.call("POST", f"/v1/admin/motions/{motion}/close")
    assert decision["outcome"] == "adopted" and decision["tally"] == {"yes": 2, "no": 1, "abstain": 0}
    response = await node.get(f"/v1/decisions/{decision['decision_id']}/bundle")
    assert response.status == 200
    verified = verify_bundle(await response.read(), PublicKey(node.config.node_id))
    assert verified.body["text"] == "Hold a rally"
    assert verified.council["name"] == "Toronto Council"
    # the bundle proves the public twin of the decision the operator was told of
    assert codec.b64u(verified.body["record"]["entry"]) == decision["decision_id"]


async def test_a_bundle_follows_the_newest_checkpoint(start_node) -> None:
    """Bundles are cached per log version: an append (or a merged cosignature) makes the next one fresh."""
    node = await start_node()
    op = node.operator
    member = (await op.call("POST", "/v1/admin/members", {"name": "Ava"}))["member_id"]
    assembly = (await op.call("POST", "/v1/admin/assemblies", {}))["assembly_id"]
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": [member]})
    motion = (await op.call("POST", "/v1/admin/motions", {"assembly": assembly, "text": "t"}))["motion_id"]
    await op.call("POST", f"/v1/admin/motions/{motion}/votes", {"member": member, "choice": "yes"})
    decision = (await op.call("POST", f"/v1/admin/motions/{motion}/close"))["decision_id"]
    key = PublicKey(node.config.node_id)

    async def checkpoint_size() -> int:
        response = await node.get(f"/v1/decisions/{decision}/bundle")
        return verify_bundle(await response.read(), key).checkpoint.size

    first = await checkpoint_size()
    assert await checkpoint_size() == first  # served from the cache, still valid
    await op.call("POST", "/v1/admin/members", {"name": "Babak"})  # a council-only entry: nothing public
    assert await checkpoint_size() == first
    await op.call("POST", "/v1/admin/census")  # a public one
    assert await checkpoint_size() == first + 1
