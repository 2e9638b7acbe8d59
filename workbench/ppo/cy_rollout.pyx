# A rollout step's bookkeeping on the CPU in C: in torch each is a dozen small ops and
# copies, a dispatch each, every env step.
#
# sample_categorical: a single categorical action sampled in one pass over the decoder's
# output by inverse CDF, with one uniform u_i per row i of out (N, k + 1; k logits, then
# the value): with e_j = exp(out[i, j] - max_j out[i, j]),
#   a_i = the first j with u_i * sum(e) < e_0 + ... + e_j   (the last if none, by rounding)
#   logp_i = out[i, a_i] - max_j out[i, j] - log sum(e)
# written straight into the rollout's buffers (actions, logprobs, values, the env's action
# buffer). The formulas of ActionHead.sample's torch path (policy.sample_categorical), the
# same numbers to rounding of exp and log.
#
# record_step: the env's rewards (clipped to [-clip, clip] when clip > 0) and done flags
# (terminal or truncated, as 0/1 floats) into the rollout's columns.

from libc.math cimport expf, logf

ctypedef fused action_t:
    int
    long long


def sample_categorical(const float[:, ::1] out, const float[:] uniform,
                       action_t[:] actions, float[:] logprobs, float[:] values,
                       action_t[:] env_actions):
    cdef Py_ssize_t n = out.shape[0], k = out.shape[1] - 1, i, j, chosen
    cdef float top, total, threshold, cum
    if k < 1:
        raise ValueError(f"out must have at least 2 columns (logits, value), got {out.shape[1]}")
    for name, length in (("uniform", uniform.shape[0]), ("actions", actions.shape[0]),
                         ("logprobs", logprobs.shape[0]), ("values", values.shape[0]),
                         ("env_actions", env_actions.shape[0])):
        if length != n:
            raise ValueError(f"{name} must have {n} rows, got {length}")
    with nogil:
        for i in range(n):
            top = out[i, 0]
            for j in range(1, k):
                if out[i, j] > top:
                    top = out[i, j]
            total = 0
            for j in range(k):
                total = total + expf(out[i, j] - top)
            threshold = uniform[i] * total
            chosen = k - 1
            cum = 0
            for j in range(k):
                cum = cum + expf(out[i, j] - top)
                if threshold < cum:
                    chosen = j
                    break
            actions[i] = <action_t>chosen
            env_actions[i] = <action_t>chosen
            logprobs[i] = out[i, chosen] - top - logf(total)
            values[i] = out[i, k]


def record_step(const float[:] rewards, const unsigned char[:] terminals,
                const unsigned char[:] truncations, float[:] rewards_out, float[:] dones_out,
                float clip):
    """Returns whether some episode ended (terminal or truncated)."""
    cdef Py_ssize_t n = rewards.shape[0], i
    cdef float r
    cdef bint ended = False
    for name, length in (("terminals", terminals.shape[0]), ("truncations", truncations.shape[0]),
                         ("rewards_out", rewards_out.shape[0]), ("dones_out", dones_out.shape[0])):
        if length != n:
            raise ValueError(f"{name} must have {n} rows, got {length}")
    with nogil:
        for i in range(n):
            r = rewards[i]
            if clip > 0:
                if r > clip:
                    r = clip
                elif r < -clip:
                    r = -clip
            rewards_out[i] = r
            if terminals[i] or truncations[i]:
                dones_out[i] = 1
                ended = True
            else:
                dones_out[i] = 0
    return ended
