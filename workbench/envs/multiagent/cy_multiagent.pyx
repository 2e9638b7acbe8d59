# MultiAgent: `agents` agents share each copy; agent k sees a one-hot of k and is rewarded
# for choosing action k. One-step episodes. Checks per-agent buffers and agent layout.
from libc.stdint cimport uint64_t

from workbench.envs.common cimport log_episode
from workbench.envs.draw cimport fill_rect


cdef class MultiAgentCore:
    cdef int n, agents
    cdef float[:, ::1] obs
    cdef int[::1] actions
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums

    def __cinit__(self, float[:, ::1] obs, final_obs, int[::1] actions, float[::1] rewards,
                  unsigned char[::1] terminals, unsigned char[::1] truncations,
                  double[::1] sums, uint64_t seed, int agents, uint64_t first_index=0):
        self.n, self.agents = obs.shape[0], agents
        self.obs, self.actions, self.rewards = obs, actions, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        # first_index is unused: nothing here depends on a copy's global index.
        self.reset(0)

    def reset(self, long long seed):
        cdef int i
        self.obs[:, :] = 0
        for i in range(self.n):
            self.obs[i, i % self.agents] = 1.0

    def first_invalid_action(self):
        cdef int i
        for i in range(self.n):
            if self.actions[i] < 0 or self.actions[i] >= self.agents:
                return i
        return -1

    def step(self):
        cdef int i
        cdef float r
        with nogil:
            for i in range(self.n):
                r = 1.0 if self.actions[i] == i % self.agents else 0.0
                self.rewards[i] = r
                self.terminals[i] = 1
                self.truncations[i] = 0
                log_episode(&self.sums[0], r, 1.0, r, r)

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef int k, right
        for k in range(self.agents):
            right = self.actions[index * self.agents + k] == k
            fill_rect(frame, k * 16 + 1, 1, 14, 14, 60 if right else 220, 220 if right else 60, 60)
