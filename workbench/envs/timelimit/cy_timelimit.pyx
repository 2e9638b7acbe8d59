# TimeLimit: reward 1 every step, no terminal state, truncated after `limit` steps.
# The observation carries no clock, so the value of every state is 1 / (1 - gamma) only
# when truncation is bootstrapped; treating it as a terminal pulls the value down.
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free

from workbench.envs.common cimport log_episode


cdef class TimeLimitCore:
    cdef int* t
    cdef int n, limit
    cdef float[:, ::1] obs, final_obs
    cdef int[::1] actions
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums

    def __cinit__(self, float[:, ::1] obs, float[:, ::1] final_obs, int[::1] actions,
                  float[::1] rewards, unsigned char[::1] terminals,
                  unsigned char[::1] truncations, double[::1] sums, uint64_t seed, int limit,
                  uint64_t first_index=0):
        self.n = obs.shape[0]
        self.limit = limit
        self.t = <int*>calloc(self.n, sizeof(int))
        if self.t == NULL:
            raise MemoryError()
        self.obs, self.final_obs, self.actions, self.rewards = obs, final_obs, actions, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        # first_index is unused: nothing here depends on a copy's global index.
        self.reset(0)

    def __dealloc__(self):
        free(self.t)

    def reset(self, long long seed):
        cdef int i
        for i in range(self.n):
            self.t[i] = 0
            self.obs[i, 0] = 1.0

    def first_invalid_action(self):
        cdef int i
        for i in range(self.n):
            if self.actions[i] < 0 or self.actions[i] > 1:
                return i
        return -1

    def step(self):
        cdef int i
        with nogil:
            for i in range(self.n):
                self.t[i] += 1
                self.rewards[i] = 1.0
                self.terminals[i] = 0
                if self.t[i] >= self.limit:
                    self.truncations[i] = 1
                    self.final_obs[i, 0] = self.obs[i, 0]
                    log_episode(&self.sums[0], self.limit, self.limit, self.limit, 1.0)
                    self.t[i] = 0
                else:
                    self.truncations[i] = 0
                self.obs[i, 0] = 1.0

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef int x, y, w = frame.shape[1] * self.t[index] // self.limit
        for y in range(frame.shape[0]):
            for x in range(w):
                frame[y, x, 2] = 220
