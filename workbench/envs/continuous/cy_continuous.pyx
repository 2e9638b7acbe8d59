# Continuous: observe a random target in [-1, 1]^dim, act with a Box action; reward is
# minus the mean absolute error. One-step episodes. Checks Gaussian (Box) policies.
from libc.math cimport fabsf, isfinite
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free

from workbench.envs.common cimport log_episode, rng_float, rng_seed
from workbench.envs.draw cimport fill_rect


cdef class ContinuousCore:
    cdef uint64_t* rng
    cdef int n, dim
    cdef float[:, ::1] obs, actions
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums
    cdef uint64_t first_index  # global index of the first copy: RNG streams follow it

    def __cinit__(self, float[:, ::1] obs, final_obs, float[:, ::1] actions,
                  float[::1] rewards, unsigned char[::1] terminals,
                  unsigned char[::1] truncations, double[::1] sums, uint64_t seed,
                  uint64_t first_index=0):
        self.n, self.dim = obs.shape[0], obs.shape[1]
        self.rng = <uint64_t*>calloc(self.n, sizeof(uint64_t))
        if self.rng == NULL:
            raise MemoryError()
        self.obs, self.actions, self.rewards = obs, actions, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        self.first_index = first_index
        self.reset(seed)

    def __dealloc__(self):
        free(self.rng)

    cdef void draw(self, int i) noexcept nogil:
        cdef int k
        for k in range(self.dim):
            self.obs[i, k] = 2.0 * rng_float(&self.rng[i]) - 1.0

    def reset(self, long long seed):
        cdef int i
        for i in range(self.n):
            if seed >= 0:
                self.rng[i] = rng_seed(<uint64_t>seed, self.first_index + i)
            self.draw(i)

    def first_invalid_action(self):
        cdef int i, k
        for i in range(self.n):
            for k in range(self.dim):
                if not isfinite(self.actions[i, k]):
                    return i * self.dim + k
        return -1

    def step(self):
        cdef int i, k
        cdef float a, err
        with nogil:
            for i in range(self.n):
                err = 0
                for k in range(self.dim):
                    a = self.actions[i, k]
                    a = -1.0 if a < -1.0 else (1.0 if a > 1.0 else a)
                    err += fabsf(a - self.obs[i, k])
                err /= self.dim
                self.rewards[i] = -err
                self.terminals[i] = 1
                self.truncations[i] = 0
                log_episode(&self.sums[0], -err, 1.0, -err, 1.0 - 0.5 * err)
                self.draw(i)

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef int k
        for k in range(self.dim):
            fill_rect(frame, k * 16 + 1, 32 - 30 * self.obs[index, k], 14, 2, 90, 200, 90)
            fill_rect(frame, k * 16 + 1, 32 - 30 * self.actions[index, k], 14, 2, 220, 90, 90)
