// A member's ballot, signed in the browser, and the proof that it was counted, checked in the browser.
// A classic script; needs assigned.js, msgpack.js, verify.js and signing.js first. The API:
//
//   shora.ballot.sign(privateKey, council, member, motion, vote) -> Promise<{statement, sig}>
//       the body of POST /v1/member/motions/{motion}/ballot: a `ballot` statement (docs/protocol.md §14.1)
//       as `shora member vote` signs it. council and member are base64url ids, motion an item of
//       /v1/member/me's open_motions; vote is {choice: "yes"|"no"|"abstain"} or, in an election,
//       {approvals: [candidate ids, base64url]} (none approved: []).
//   shora.ballot.verifyProof(data, rootKey, memberKey) -> Promise<report>
//       protocol/member.py's verify_ballot_proof, ported step by step and in its order (STEPS): data the
//       proof's bytes (GET /v1/member/motions/{motion}/proof), rootKey the council's key and memberKey the
//       member's (32 bytes each). Never throws for a bad proof: report = {steps: [{step, status, detail}],
//       failed (the step, or null), message, counted: {choice, approvals, outcome, tally, decision, motion}}.
(() => {
  const { msgpack, verify, signing } = globalThis.shora;
  const { DecodeError, Limits } = msgpack;
  const { VerificationError, b64u, unb64u, equal, hex, sha256, concat } = verify;
  const utf8 = new TextEncoder();

  const STEPS = ["encoding", "checkpoint-signature", "origin", "body-hash", "inclusion", "founding", "ballot",
    "member-signature", "decision"];
  const PROOF_LIMITS = Limits(256 * 1024, 4, 128 * 1024);
  const RECORD_LOG_TAG = utf8.encode("shora/v1/record-log\0");
  const MEMBER_TAG = utf8.encode("shora/v1/member\0");
  const EPOCH_MAX = 2 ** 32 - 1;

  function sign(privateKey, council, member, motion, vote) {
    const approvals = motion.kind === "election" ? (vote.approvals || []).map((a) => unb64u(a)) : [];
    return signing.signed(privateKey, "ballot", unb64u(council), {
      assembly: unb64u(motion.assembly),
      motion: unb64u(motion.motion_id),
      member: unb64u(member),
      choice: motion.kind === "election" ? null : vote.choice,
      approvals,
    });
  }

  // protocol.record.record_log_id
  async function recordLogId(rootKey, epoch) {
    const e = new Uint8Array(4);
    new DataView(e.buffer).setUint32(0, epoch);
    return sha256(concat(RECORD_LOG_TAG, rootKey, e));
  }

  // protocol.member._entry: a map of header, signature, body and proof (at most 64 hashes), a record entry
  async function entry(value, what) {
    if (!(value instanceof Map) || value.size !== 4 || !["header", "signature", "body", "proof"].every((k) => value.has(k))) {
      throw new VerificationError("encoding", `${what} is a map of header, signature, body and proof`);
    }
    const proof = value.get("proof");
    if (!Array.isArray(proof) || proof.length > 64 || !proof.every((h) => h instanceof Uint8Array)) {
      throw new VerificationError("encoding", `${what}'s proof is at most 64 hashes`);
    }
    try {
      return await verify.provenEntry(value, true);
    } catch (err) {
      if (err instanceof DecodeError) throw new VerificationError("encoding", `${what}: ${err.message}`);
      throw err;
    }
  }

  async function verifyProof(data, rootKey, memberKey) {
    const steps = new Map(STEPS.map((s) => [s, { step: s, status: "skipped", detail: "" }]));
    const pass = (step, detail) => Object.assign(steps.get(step), { status: "pass", detail });
    const report = { steps: [], failed: null, message: "", counted: null };
    const fail = (step, message) => { throw new VerificationError(step, message); };
    try {
      let value;
      try {
        value = msgpack.decode(data, PROOF_LIMITS);
      } catch (err) {
        if (err instanceof DecodeError) fail("encoding", `not a ballot proof: ${err.message}`);
        throw err;
      }
      const keys = ["v", "epoch", "checkpoint", "founding", "ballot", "decision"];
      if (!(value instanceof Map) || value.size !== keys.length || !keys.every((k) => value.has(k)) || value.get("v") !== 1) {
        fail("encoding", `a ballot proof is a version-1 map of ${[...keys].sort().join(", ")}`);
      }
      const epoch = value.get("epoch");
      const note = value.get("checkpoint");
      if (!(typeof epoch === "bigint" || Number.isInteger(epoch)) || typeof note !== "string") {
        fail("encoding", "epoch is an integer and checkpoint a note");
      }
      if (rootKey.length !== 32 || epoch < 0 || epoch > EPOCH_MAX) fail("checkpoint-signature", "a record epoch is a u32");
      verify.checkPublicKey(rootKey); // protocol.keys.PublicKey: a DecodeError, so step checkpoint-signature
      const logId = await recordLogId(rootKey, epoch);
      const signed = await verify.openCheckpoint(note, rootKey, `shora/${b64u(logId)}`);
      const tree = signed.checkpoint;
      pass("origin", tree.origin);
      pass("checkpoint-signature", `tree size ${tree.size}, root ${hex(tree.root)}; signed by ${b64u(rootKey)}`);
      const found = await entry(value.get("founding"), "founding");
      const ballot = await entry(value.get("ballot"), "ballot");
      const decision = await entry(value.get("decision"), "decision");
      pass("encoding", `${data.length} bytes, canonical msgpack`);
      pass("body-hash", "SHA-256 of each entry's body matches its header");
      for (const e of [found, ballot, decision]) {
        if (!equal(e.header.logId, logId)) fail("inclusion", "an entry of another record");
        await verify.included(e, tree);
      }
      pass("inclusion", `entries ${found.header.seq}, ${ballot.header.seq}, ${decision.header.seq} of ${tree.size}`);
      if (found.header.seq !== 0 || found.body.get("kind") !== "council/found") fail("founding", "the record's entry 0 founds the council");
      const council = found.id;
      pass("founding", `council ${b64u(council)}`);
      const body = ballot.body;
      const by = body.get("issued_by");
      if (body.get("kind") !== "motion/vote" || !(by instanceof Map) || by.get("role") !== "member") {
        fail("ballot", "the entry is not a member-signed vote");
      }
      if (!equal(by.get("key"), memberKey) || !equal(by.get("member"), body.get("member"))) {
        fail("ballot", "the vote is not signed by this member's key");
      }
      const outcome = decision.body;
      if (outcome.get("kind") !== "decision" || !equal(outcome.get("motion"), body.get("motion"))) {
        fail("decision", "the decision entry does not decide the ballot's motion");
      }
      let statement;
      try {
        statement = signing.statement("ballot", council, {
          assembly: outcome.get("assembly"),
          motion: body.get("motion"),
          member: body.get("member"),
          choice: body.has("choice") ? body.get("choice") : null, // Python's dict.get
          approvals: body.get("approvals"),
        });
      } catch (err) {
        fail("ballot", err.message);
      }
      pass("ballot", `entry ${ballot.header.seq}: member ${b64u(body.get("member"))}, key ${b64u(memberKey)}`);
      const sig = by.get("sig");
      if (!(sig instanceof Uint8Array) || sig.length !== 64) fail("member-signature", "a member's signature is 64 bytes");
      if (!(await verify.ed25519(memberKey, concat(MEMBER_TAG, statement), sig))) {
        fail("member-signature", "not this member's signed ballot");
      }
      pass("member-signature", `Ed25519 by ${b64u(memberKey)}`);
      if (decision.header.seq <= ballot.header.seq) fail("decision", "the decision came before the ballot");
      pass("decision", `entry ${decision.header.seq}: ${outcome.get("outcome")}`);
      report.counted = {
        choice: body.get("choice"),
        approvals: body.get("approvals").map(b64u),
        outcome: String(outcome.get("outcome")),
        tally: outcome.get("tally"),
        decision: b64u(decision.id),
        motion: b64u(body.get("motion")),
      };
    } catch (err) {
      if (!(err instanceof VerificationError)) {
        if (!(err instanceof DecodeError)) throw err;
        err = new VerificationError("checkpoint-signature", err.message); // the root key itself is not a key
      }
      report.failed = err.step;
      report.message = err.message;
      Object.assign(steps.get(err.step), { status: "fail", detail: err.message });
    }
    report.steps = [...steps.values()];
    return report;
  }

  globalThis.shora.ballot = { sign, verifyProof, STEPS };
})();
