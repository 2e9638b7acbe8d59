# Memory: a cue (0 or 1) is shown on the first step, then `delay` blank steps follow; on the
# last step a query flag is set and the action must equal the cue. Needs recurrent memory.
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free

from workbench.envs.draw cimport fill_rect
from workbench.envs.common cimport log_episode, rng_next, rng_seed

cdef struct Game:
    int cue
    int t
    uint64_t rng


cdef inline void write_obs(Game* g, float* o, int delay) noexcept nogil:
    o[0] = 1.0 if g.t == 0 and g.cue == 0 else 0.0
    o[1] = 1.0 if g.t == 0 and g.cue == 1 else 0.0
    o[2] = 1.0 if g.t == delay else 0.0


cdef class MemoryCore:
    cdef Game* games
    cdef int n, delay
    cdef float[:, ::1] obs
    cdef int[::1] actions
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums
    cdef uint64_t first_index  # global index of the first copy: RNG streams follow it

    def __cinit__(self, float[:, ::1] obs, final_obs, int[::1] actions, float[::1] rewards,
                  unsigned char[::1] terminals, unsigned char[::1] truncations,
                  double[::1] sums, uint64_t seed, int delay, uint64_t first_index=0):
        self.n = obs.shape[0]
        self.delay = delay
        self.games = <Game*>calloc(self.n, sizeof(Game))
        if self.games == NULL:
            raise MemoryError()
        self.obs, self.actions, self.rewards = obs, actions, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        self.first_index = first_index
        self.reset(seed)

    def __dealloc__(self):
        free(self.games)

    def reset(self, long long seed):
        cdef int i
        for i in range(self.n):
            if seed >= 0:
                self.games[i].rng = rng_seed(<uint64_t>seed, self.first_index + i)
            self.games[i].t = 0
            self.games[i].cue = rng_next(&self.games[i].rng) & 1
            write_obs(&self.games[i], &self.obs[i, 0], self.delay)

    def first_invalid_action(self):
        cdef int i
        for i in range(self.n):
            if self.actions[i] < 0 or self.actions[i] > 1:
                return i
        return -1

    def step(self):
        cdef int i
        cdef float r
        cdef Game* g
        with nogil:
            for i in range(self.n):
                g = &self.games[i]
                self.truncations[i] = 0
                if g.t == self.delay:
                    r = 1.0 if self.actions[i] == g.cue else 0.0
                    self.rewards[i] = r
                    self.terminals[i] = 1
                    log_episode(&self.sums[0], r, self.delay + 1, r, r)
                    g.t = 0
                    g.cue = rng_next(&g.rng) & 1
                else:
                    self.rewards[i] = 0
                    self.terminals[i] = 0
                    g.t += 1
                write_obs(g, &self.obs[i, 0], self.delay)

    def render(self, int index, unsigned char[:, :, ::1] frame):
        # Three slots: cue 0, cue 1, query; lit when set, dim otherwise.
        cdef int c
        for c in range(3):
            if self.obs[index, c] > 0:
                fill_rect(frame, c * 16 + 1, 1, 14, 14, 220 * (c != 1), 220 * (c != 0), 90)
            else:
                fill_rect(frame, c * 16 + 1, 1, 14, 14, 40, 40, 40)
