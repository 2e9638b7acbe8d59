# Shared C-level helpers for every env: per-copy RNG and episode-log sums.
# Inline functions only, so cimporting this costs nothing at run time.
from libc.math cimport rint
from libc.stdint cimport uint64_t

# Order of the per-env log sums array (float64[9]); mirrors workbench.envs.base.LOG_KEYS,
# then the sums of squares of the four values (for spreads: eval's standard deviation).
cdef enum:
    LOG_RETURN = 0
    LOG_LENGTH = 1
    LOG_SCORE = 2
    LOG_PERF = 3
    LOG_N = 4
    LOG_SQUARES = 5


cdef inline uint64_t rng_next(uint64_t* state) noexcept nogil:
    # splitmix64 (Steele et al. 2014): one add and a mix, good enough for game randomness.
    state[0] += <uint64_t>0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t rng_seed(uint64_t seed, uint64_t index) noexcept nogil:
    # Mix (seed, copy index) so neighbouring copies and neighbouring seeds get unrelated streams.
    cdef uint64_t s = seed ^ (index * <uint64_t>0xD1B54A32D192ED03ULL)
    rng_next(&s)
    s ^= index + <uint64_t>0x632BE59BD9B4E019ULL
    rng_next(&s)
    return s


cdef inline float rng_float(uint64_t* state) noexcept nogil:
    # Uniform in [0, 1) with 24 bits of mantissa.
    return <float>(rng_next(state) >> 40) * <float>(1.0 / 16777216.0)


cdef inline int rng_int(uint64_t* state, int n) noexcept nogil:
    # Uniform in [0, n); the modulo bias is below 2**-32 for the small n envs use.
    return <int>(rng_next(state) % <uint64_t>n)


cdef inline double log_value(double v) noexcept nogil:
    # v rounded to a multiple of 2**-40: a no-op for integers and for float32 values above
    # 2**-17 in magnitude. Sums of such values are exact (below 2**13 in magnitude, 2**53
    # for integers), so they do not depend on the order episodes are added in: threaded
    # stepping sums each slice of copies apart and logs exactly what serial stepping logs.
    return rint(v * 1099511627776.0) * (1.0 / 1099511627776.0)


cdef inline void log_episode(double* sums, double ret, double length, double score,
                             double perf) noexcept nogil:
    ret, length, score, perf = log_value(ret), log_value(length), log_value(score), log_value(perf)
    sums[LOG_RETURN] += ret
    sums[LOG_LENGTH] += length
    sums[LOG_SCORE] += score
    sums[LOG_PERF] += perf
    sums[LOG_N] += 1.0
    sums[LOG_SQUARES] += ret * ret
    sums[LOG_SQUARES + 1] += length * length
    sums[LOG_SQUARES + 2] += score * score
    sums[LOG_SQUARES + 3] += perf * perf


cdef inline dict merged_state(str game, dict current, dict fields):
    # A copy's state (a struct seen as a dict) with ``fields`` replaced: unknown names are
    # an error, so a typo in a scripted test scenario cannot pass silently.
    for key in fields:
        if key not in current:
            raise KeyError(f"unknown {game} state field {key!r}; fields: {', '.join(current)}")
    current.update(fields)
    return current
