"""Members acting with their own keys against a real node (issue 12): invite, redeem, sign, post."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federation.client import Response, SignedClient
from node.storage.invitations import Token
from protocol import codec
from protocol.keys import SigningKey
from protocol.member import Statement, sign_statement
from tests.conftest import RunningNode

Json = dict[str, Any]


@dataclass
class KeyedMember:
    node: RunningNode
    key: SigningKey
    member: bytes
    council: bytes

    @property
    def client(self) -> SignedClient:
        return SignedClient(self.node.session, self.node.url, self.key, self.node.config.node_id)

    def signed(self, act: str, *, council: bytes | None = None, **fields: Any) -> Json:
        statement = Statement(act, council or self.council, {"member": self.member, **fields})
        return {
            "statement": codec.b64u(statement.encode()),
            "sig": codec.b64u(sign_statement(self.key, statement)),
        }

    async def post(self, path: str, body: Json) -> Response:
        return await self.client.request("POST", path, codec_json(body), check=False)

    async def get(self, path: str) -> Response:
        return await self.client.request("GET", path, check=False)

    async def checkin(self, assembly: bytes) -> Response:
        return await self.post("/v1/member/checkin", self.signed("checkin", assembly=assembly))

    async def consent(self, assembly: bytes) -> Response:
        """Consent, signed, to stand as a candidate in ``assembly``'s elections (issue 13)."""
        return await self.post("/v1/member/consent", self.signed("consent", assembly=assembly))

    async def requisition(self, text: str, asked_in: int | None = None) -> Response:
        """Requisition, signed, the next assembly: in the round the node states now, unless ``asked_in``."""
        if asked_in is None:
            asked_in = (await self.get("/v1/member/me")).json()["requisition"]["round"]
        body = self.signed("requisition", text=text, round=asked_in)
        return await self.post("/v1/member/requisitions", body)

    async def vote(
        self, assembly: bytes, motion: bytes, choice: str | None, approvals: list[bytes] | None = None
    ) -> Response:
        if approvals is None:
            approvals = []
        body = self.signed("ballot", assembly=assembly, motion=motion, choice=choice, approvals=approvals)
        return await self.post(f"/v1/member/motions/{codec.b64u(motion)}/ballot", body)


def codec_json(body: Json) -> bytes:
    import json

    return json.dumps(body).encode()


async def council_id(node: RunningNode) -> bytes:
    log = await node.operator.call("GET", "/v1/admin/record/log?limit=1")
    return codec.unb64u(log["entries"][0]["id"], 32)


async def invite(node: RunningNode, **body: str) -> Json:
    return await node.operator.call("POST", "/v1/admin/invitations", body)  # type: ignore[no-any-return]


async def redeem(
    node: RunningNode, invitation: str, key: SigningKey | None = None, act: str = "join"
) -> tuple[Response, KeyedMember]:
    key = key or SigningKey.generate()
    token = Token.parse(invitation)
    council = await council_id(node)
    info = await node.operator.call("GET", "/v1/node")
    fields: Json = {"member": token.member, "key": key.public.raw}
    if act == "join":
        fields["charter_hash"] = codec.unb64u(info["charter_hash"], 32)
    statement = Statement(act, council, fields)
    body = {
        "invitation": invitation,
        "statement": codec.b64u(statement.encode()),
        "sig": codec.b64u(sign_statement(key, statement)),
    }
    keyed = KeyedMember(node, key, token.member, council)
    response = await keyed.post("/v1/member/redeem", body)
    return response, keyed


async def keyed_member(node: RunningNode, name: str) -> KeyedMember:
    response, keyed = await redeem(node, (await invite(node, name=name))["invitation"])
    assert response.status == 200, response.body
    return keyed
