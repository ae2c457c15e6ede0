"""``shora member keygen|redeem|checkin|vote|record|check`` as a member runs them, against a real
``shora serve`` (issue 12): the key file is 0600 and the CLI says where; every act is signed; the member
proves offline that their ballot was counted."""

from __future__ import annotations

import json
from pathlib import Path

from protocol import codec
from tests.node.test_cli import as_json, init, refused, shora, start_serving, stop_serving


def test_a_member_acts_from_their_own_device(tmp_path: Path) -> None:
    home = tmp_path / "toronto"
    init(home)
    server = start_serving(home, tmp_path / "serve.log")
    try:
        url = "http://" + (home / "serve.addr").read_text().strip()
        invitation = as_json("member", "invite", "--name", "Shirin", home=home)["invitation"]
        phone = tmp_path / "phone" / "member.key"
        made = shora("member", "keygen", "--key", phone).stdout
        assert str(phone) in made and "0600" in made
        assert phone.stat().st_mode & 0o777 == 0o600
        # a second keygen never overwrites the key
        assert "exists" in refused("member", "keygen", "--key", phone)

        joined = as_json("member", "redeem", invitation, "--url", url, "--key", phone)
        assert joined["joined"] is True and joined["key_file"] == str(phone)
        # the invitation is single use
        other = tmp_path / "other.key"
        shora("member", "keygen", "--key", other)
        assert "used" in refused("member", "redeem", invitation, "--url", url, "--key", other)
        # a lost phone: an invitation for her new key, redeemed from a new device — the CLI's join is refused
        # as `statement.act` and it tries again, with the same new key, as a `key` statement
        renewal = as_json("member", "invite", "--member", "Shirin", home=home)["invitation"]
        lost = tmp_path / "new-phone" / "member.key"
        shora("member", "keygen", "--key", lost)
        bound = as_json("member", "redeem", renewal, "--url", url, "--key", lost)
        assert bound["joined"] is False and bound["member_id"] == joined["member_id"]
        phone = lost  # the old key is revoked: she acts with the new one from here on

        as_json("assembly", "open", "--agenda", "online", home=home)
        assert "checked in" in shora("member", "checkin", "--key", phone).stdout
        motion = as_json("motion", "propose", "current", "--text", "Hold a rally", home=home)["motion_id"]
        assert "ballot recorded" in shora("member", "vote", motion[:12], "yes", "--key", phone).stdout
        done = shora("member", "vote", motion[:12], "no", "--key", phone, "--json", code=1)
        assert json.loads(done.stdout)["error"] == "vote.duplicate"

        # the secretary cannot vote for her; the record says who did what
        decision = as_json("motion", "close", motion, home=home)
        assert (decision["ballots_signed"], decision["ballots_recorded"]) == (1, 0)
        mine = shora("member", "record", "--key", phone).stdout
        assert "motion/vote" in mine and "by member" in mine and "(you)" in mine
        operator_view = shora("record", home=home).stdout
        assert "decision" in operator_view and "by operator" in operator_view

        proof = tmp_path / "proof.bin"
        checked = as_json("member", "check", motion, "-o", proof, "--key", phone)
        assert checked["valid"] is True and checked["choice"] == "yes" and checked["outcome"] == "adopted"
        # offline, from the saved proof; a tampered proof is refused with exit 1
        assert as_json("member", "check", "--proof", proof, "--key", phone)["valid"] is True
        value = codec.decode(proof.read_bytes())
        value["ballot"]["proof"] = [bytes(32), *value["ballot"]["proof"][1:]]
        proof.write_bytes(codec.encode(value))
        assert "inclusion" in refused("member", "check", "--proof", proof, "--key", phone)

        # elected with her own ballot, she convenes and reports as a board member, with her key
        me = joined["member_id"]
        assert "consent to stand recorded" in shora("member", "consent", "--key", phone).stdout
        election = as_json(
            "motion",
            "propose",
            "current",
            "--kind",
            "election",
            "--seats",
            "1",
            "--candidate",
            me,
            "--text",
            "Elect the board",
            home=home,
        )["motion_id"]
        # the secretary cannot cast her ballot in an election: the rules reserve it to her own key
        assert "signed" in refused("vote", election, me, me, home=home)
        shora("member", "vote", election[:12], me[:8], "--key", phone)
        assert as_json("motion", "close", election, home=home)["outcome"] == "adopted"
        shora("assembly", "close", "current", home=home)
        assert "opened" in shora("member", "convene", "--agenda", "Autumn", "--key", phone).stdout
        assert "filed" in shora("member", "report", "--text", "The rally was held", "--key", phone).stdout
        assert "recorded" in shora("member", "requisition", "--text", "A recall", "--key", phone).stdout
        assert me in shora("member", "resign", "--key", phone).stdout
        assert "left" in refused("member", "record", "--key", phone)
    finally:
        stop_serving(server, home)


def test_the_rules_say_which_motions_need_signed_ballots(tmp_path: Path) -> None:
    base = ["init", "--name", "Toronto Council", "--city", "Toronto", "--country", "CA"]
    base += ["--continent", "North America", "--listen", "127.0.0.1:0"]
    assert "signed ballots" in refused(
        *base[:1], tmp_path / "bad", *base[1:], "--signed-ballots", "election,bogus"
    )
    assert not (tmp_path / "bad" / "node.json").exists()
    home = tmp_path / "open"
    shora(*base[:1], home, *base[1:], "--signed-ballots", "none")
    server = start_serving(home, tmp_path / "serve.log")
    try:
        founding = as_json("record", home=home)["entries"][0]
        assert founding["kind"] == "council/found" and founding["issued_by"] is None
        assert founding["body"]["rules"]["signed_ballots"] == []
        assert (
            "--kind rules"
            in shora(
                "motion", "propose", "x", "--text", "t", "--signed-ballots", "policy", home=home, code=2
            ).stderr
        )
    finally:
        stop_serving(server, home)
