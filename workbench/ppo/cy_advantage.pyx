# "Puff advantage": GAE (Schulman et al. 2016) with V-trace clipping (Espeholt et al. 2018).
# Per segment row, backwards in t, with d[t] the done flag after the action at t:
#   rho_t = min(ratio_t, rho_clip), c_t = min(ratio_t, c_clip)
#   delta_t = rho_t * (r_t + gamma * V_{t+1} * (1 - d_t) - V_t)
#   A_t = delta_t + gamma * lambda * c_t * (1 - d_t) * A_{t+1}
# values has one more column than the rest: values[:, T] bootstraps the segment's end.


cdef inline void _row(const float[:, ::1] values, const float[:, ::1] rewards,
                      const float[:, ::1] dones, const float[:, ::1] ratio,
                      float[:, ::1] out, Py_ssize_t i, float gamma, float lam,
                      float rho_clip, float c_clip) noexcept nogil:
    cdef Py_ssize_t T = rewards.shape[1], t
    cdef float a = 0, rho, c, nd, delta
    for t in range(T - 1, -1, -1):
        rho = ratio[i, t]
        c = rho
        if rho > rho_clip:
            rho = rho_clip
        if c > c_clip:
            c = c_clip
        nd = 1.0 - dones[i, t]
        delta = rho * (rewards[i, t] + gamma * values[i, t + 1] * nd - values[i, t])
        a = delta + gamma * lam * c * nd * a
        out[i, t] = a


def _check(values, rewards, dones, ratio, out):
    cdef Py_ssize_t n = rewards.shape[0], T = rewards.shape[1]
    if values.shape[0] != n or values.shape[1] != T + 1:
        raise ValueError(f"values must be ({n}, {T + 1}), got ({values.shape[0]}, {values.shape[1]})")
    for name, arr in (("dones", dones), ("ratio", ratio), ("out", out)):
        if arr.shape[0] != n or arr.shape[1] != T:
            raise ValueError(f"{name} must be ({n}, {T}), got ({arr.shape[0]}, {arr.shape[1]})")


def puff_advantage(const float[:, ::1] values, const float[:, ::1] rewards,
                   const float[:, ::1] dones, const float[:, ::1] ratio,
                   float[:, ::1] out, float gamma, float lam, float rho_clip, float c_clip):
    cdef Py_ssize_t i
    _check(values, rewards, dones, ratio, out)
    with nogil:
        for i in range(rewards.shape[0]):
            _row(values, rewards, dones, ratio, out, i, gamma, lam, rho_clip, c_clip)


def puff_advantage_rows(const float[:, ::1] values, const float[:, ::1] rewards,
                        const float[:, ::1] dones, const float[:, ::1] ratio,
                        float[:, ::1] out, const long long[:] rows, float gamma, float lam,
                        float rho_clip, float c_clip):
    """``puff_advantage`` for the listed rows only (each row depends on its own inputs)."""
    cdef Py_ssize_t k, i, n = rewards.shape[0]
    _check(values, rewards, dones, ratio, out)
    for k in range(rows.shape[0]):
        if rows[k] < 0 or rows[k] >= n:
            raise ValueError(f"row {rows[k]} out of range for {n} rows")
    with nogil:
        for k in range(rows.shape[0]):
            i = rows[k]
            _row(values, rewards, dones, ratio, out, i, gamma, lam, rho_clip, c_clip)
