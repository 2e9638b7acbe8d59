# Corridor: a tiny env written for the "write your own environment" tutorial.
# Each copy is a corridor of `length` cells; the agent starts in cell 0 and must walk to
# the last one (action 0 = left, 1 = right). Reaching it: reward 1 and a terminal.
# Taking longer than 4 * length steps: a truncation (the time limit).
from workbench.envs.common cimport log_episode
from workbench.envs.draw cimport fill_rect
from libc.stdlib cimport calloc, free


cdef class CorridorCore:
    cdef int* pos
    cdef int* t
    cdef int n, length
    cdef float[:, ::1] obs, final_obs
    cdef int[::1] actions
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums

    def __cinit__(self, float[:, ::1] obs, float[:, ::1] final_obs, int[::1] actions,
                  float[::1] rewards, unsigned char[::1] terminals,
                  unsigned char[::1] truncations, double[::1] sums, unsigned long long seed,
                  int length):
        # The base class hands every buffer over by name: obs, final_obs, actions, rewards,
        # terminals, truncations, sums (the episode-log sums) and seed, then the env's params.
        self.n, self.length = obs.shape[0], length
        self.pos = <int*>calloc(self.n, sizeof(int))
        self.t = <int*>calloc(self.n, sizeof(int))
        self.obs, self.final_obs, self.actions, self.rewards = obs, final_obs, actions, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        self.reset(0)

    def __dealloc__(self):
        free(self.pos)
        free(self.t)

    def reset(self, long long seed):
        cdef int i
        for i in range(self.n):
            self.obs[i, self.pos[i]] = 0
            self.pos[i] = 0
            self.t[i] = 0
            self.obs[i, 0] = 1

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
                self.obs[i, self.pos[i]] = 0
                self.pos[i] += 1 if self.actions[i] == 1 else -1
                if self.pos[i] < 0:
                    self.pos[i] = 0
                self.t[i] += 1
                self.rewards[i] = 0
                self.terminals[i] = 0
                self.truncations[i] = 0
                if self.pos[i] == self.length - 1:
                    self.rewards[i] = 1
                    self.terminals[i] = 1
                    log_episode(&self.sums[0], 1.0, self.t[i], 1.0, 1.0)
                    self.pos[i] = 0
                    self.t[i] = 0
                elif self.t[i] >= 4 * self.length:
                    self.obs[i, self.pos[i]] = 1
                    self.final_obs[i, :] = self.obs[i, :]
                    self.truncations[i] = 1
                    log_episode(&self.sums[0], 0.0, self.t[i], 0.0, 0.0)
                    self.obs[i, self.pos[i]] = 0
                    self.pos[i] = 0
                    self.t[i] = 0
                self.obs[i, self.pos[i]] = 1

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef int c
        for c in range(self.length):
            fill_rect(frame, c * 16 + 1, 1, 14, 14, 50, 50, 60)
        fill_rect(frame, (self.length - 1) * 16 + 1, 1, 14, 14, 90, 200, 90)
        fill_rect(frame, self.pos[index] * 16 + 3, 3, 10, 10, 240, 200, 80)
