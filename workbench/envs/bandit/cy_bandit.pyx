# Bandit: k arms, arm i pays 1 with probability p_i; the last arm is best. One-step episodes.
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free

from workbench.envs.common cimport log_episode, rng_float, rng_seed


cdef class BanditCore:
    cdef uint64_t* rng
    cdef int n, arms
    cdef float[:, ::1] obs
    cdef int[::1] actions
    cdef float[::1] rewards, probs
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums
    cdef uint64_t first_index  # global index of the first copy: RNG streams follow it

    def __cinit__(self, float[:, ::1] obs, final_obs, int[::1] actions, float[::1] rewards,
                  unsigned char[::1] terminals, unsigned char[::1] truncations,
                  double[::1] sums, uint64_t seed, float[::1] probs,
                  uint64_t first_index=0):
        self.n = obs.shape[0]
        self.arms = probs.shape[0]
        self.rng = <uint64_t*>calloc(self.n, sizeof(uint64_t))
        if self.rng == NULL:
            raise MemoryError()
        self.obs, self.actions, self.rewards = obs, actions, rewards
        self.terminals, self.truncations, self.sums, self.probs = terminals, truncations, sums, probs
        self.first_index = first_index
        self.reset(seed)

    def __dealloc__(self):
        free(self.rng)

    def reset(self, long long seed):
        cdef int i
        for i in range(self.n):
            if seed >= 0:
                self.rng[i] = rng_seed(<uint64_t>seed, self.first_index + i)
            self.obs[i, 0] = 1.0

    def first_invalid_action(self):
        cdef int i
        for i in range(self.n):
            if self.actions[i] < 0 or self.actions[i] >= self.arms:
                return i
        return -1

    def step(self):
        cdef int i, a
        cdef float r
        cdef double best
        with nogil:
            for i in range(self.n):
                a = self.actions[i]
                r = 1.0 if rng_float(&self.rng[i]) < self.probs[a] else 0.0
                self.rewards[i] = r
                self.terminals[i] = 1
                self.truncations[i] = 0
                best = 1.0 if a == self.arms - 1 else 0.0
                log_episode(&self.sums[0], r, 1.0, best, best)

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef int a = self.actions[index], x, y
        for y in range(frame.shape[0]):
            for x in range(a * 16, a * 16 + 16):
                frame[y, x, 1] = 200
