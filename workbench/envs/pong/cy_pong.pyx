# Pong against a scripted opponent: rules in README.md next to this file.
#
# Screen coordinates (y grows downward). The field is W x H between the paddles' faces:
# the opponent's paddle face is at x = 0, the agent's at x = W. Positions are top-left
# corners in px, velocities px per frame.

from libc.math cimport fabsf, isfinite
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free

from workbench.envs.draw cimport fill_rect
from workbench.envs.common cimport log_episode, merged_state, rng_next, rng_seed

cdef extern from *:
    """
    #define PG_W 500.0f
    #define PG_H 640.0f
    #define PG_PADDLE_W 20.0f
    #define PG_PADDLE_H 70.0f
    #define PG_PADDLE_SPEED 8.0f
    #define PG_BALL 32.0f
    #define PG_VX 10.0f
    #define PG_VY_MAX 13.0f
    #define PG_SPIN 3.0f
    #define PG_WIN 21
    #define PG_HIT_REWARD 0.1f
    """
    const float PG_W, PG_H, PG_PADDLE_W, PG_PADDLE_H, PG_PADDLE_SPEED, PG_BALL, PG_VX
    const float PG_VY_MAX, PG_SPIN, PG_HIT_REWARD
    const int PG_WIN

cdef struct Game:
    float agent_y      # top of the agent's (right) paddle
    float opp_y        # top of the opponent's (left) paddle
    float ball_x
    float ball_y
    float vx
    float vy
    int agent_score
    int opp_score
    float ep_return
    int ep_length
    uint64_t rng


cdef inline float clampf(float x, float lo, float hi) noexcept nogil:
    return lo if x < lo else (hi if x > hi else x)


cdef inline void serve(Game* g) noexcept nogil:
    # Ball from x = W/5 toward the agent at +10 px/frame, vy in {-1, 0}; paddles centred.
    g.agent_y = 0.5 * (PG_H - PG_PADDLE_H)
    g.opp_y = g.agent_y
    g.ball_x = PG_W / 5.0
    g.ball_y = 0.5 * (PG_H - PG_BALL)
    g.vx = PG_VX
    g.vy = -1.0 if rng_next(&g.rng) & 1 else 0.0


cdef inline void reset_game(Game* g) noexcept nogil:
    g.agent_score = 0
    g.opp_score = 0
    g.ep_return = 0
    g.ep_length = 0
    serve(g)


cdef inline int overlaps_paddle(float ball_y, float paddle_y) noexcept nogil:
    return ball_y + PG_BALL > paddle_y and ball_y < paddle_y + PG_PADDLE_H


cdef inline float step_frame(Game* g, float move, int* point) noexcept nogil:
    # One 1/60 s frame. `move` in [-1, 1] (down positive). Returns the reward;
    # point: +1 agent scored, -1 opponent scored, 0 rally goes on.
    cdef float reward = 0, lo = -0.5 * PG_PADDLE_H, hi = PG_H - 0.5 * PG_PADDLE_H
    cdef float delta, over, y_cross
    point[0] = 0
    g.agent_y = clampf(g.agent_y + PG_PADDLE_SPEED * move, lo, hi)
    # The opponent tracks the ball's centre, at most paddle speed per frame.
    delta = (g.ball_y + 0.5 * PG_BALL) - (g.opp_y + 0.5 * PG_PADDLE_H)
    g.opp_y = clampf(g.opp_y + clampf(delta, -PG_PADDLE_SPEED, PG_PADDLE_SPEED), lo, hi)

    g.ball_x += g.vx
    g.ball_y += g.vy
    # Top and bottom walls reflect the ball (position and velocity).
    if g.ball_y < 0:
        g.ball_y = -g.ball_y
        g.vy = -g.vy
    elif g.ball_y > PG_H - PG_BALL:
        g.ball_y = 2 * (PG_H - PG_BALL) - g.ball_y
        g.vy = -g.vy

    if g.ball_x < 0:
        # Where the ball was when it reached the opponent's face (swept, not end-of-frame).
        over = -g.ball_x
        y_cross = g.ball_y - g.vy * over / fabsf(g.vx)
        if overlaps_paddle(y_cross, g.opp_y):
            g.ball_x = over
            g.vx = -g.vx
        else:
            g.agent_score += 1
            reward = 1.0
            point[0] = 1
    elif g.ball_x > PG_W - PG_BALL:
        over = g.ball_x - (PG_W - PG_BALL)
        y_cross = g.ball_y - g.vy * over / fabsf(g.vx)
        if overlaps_paddle(y_cross, g.agent_y):
            g.ball_x = PG_W - PG_BALL - over
            g.vx = -g.vx
            reward = PG_HIT_REWARD
            # The paddle's motion puts spin on the ball; never a horizontal ball.
            g.vy = clampf(g.vy + PG_SPIN * move, -PG_VY_MAX, PG_VY_MAX)
            if fabsf(g.vy) < 0.01:
                g.vy = PG_SPIN
        else:
            g.opp_score += 1
            reward = -1.0
            point[0] = -1
    return reward


cdef inline void write_obs(Game* g, float* o) noexcept nogil:
    cdef float span = PG_H
    o[0] = (g.agent_y + 0.5 * PG_PADDLE_H) / span
    o[1] = (g.opp_y + 0.5 * PG_PADDLE_H) / span
    o[2] = g.ball_x / PG_W
    o[3] = g.ball_y / PG_H
    o[4] = (g.vx + PG_VX) / (2 * PG_VX)
    o[5] = (g.vy + PG_VY_MAX) / (2 * PG_VY_MAX)
    o[6] = g.agent_score / <float>PG_WIN
    o[7] = g.opp_score / <float>PG_WIN


cdef class PongCore:
    cdef Game* games
    cdef int n, frameskip
    cdef bint continuous
    cdef float[:, ::1] obs
    cdef int[::1] act_d
    cdef float[::1] act_c
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums
    cdef uint64_t first_index  # global index of the first copy: RNG streams follow it

    def __cinit__(self, float[:, ::1] obs, final_obs, actions, float[::1] rewards,
                  unsigned char[::1] terminals, unsigned char[::1] truncations,
                  double[::1] sums, uint64_t seed, int frameskip, bint continuous,
                  uint64_t first_index=0):
        self.n = obs.shape[0]
        self.games = <Game*>calloc(self.n, sizeof(Game))
        if self.games == NULL:
            raise MemoryError(f"cannot allocate {self.n} Pong copies")
        self.obs, self.rewards = obs, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        self.frameskip, self.continuous = frameskip, continuous
        if continuous:
            self.act_c = actions.reshape(-1)
        else:
            self.act_d = actions
        self.first_index = first_index
        self.reset(seed)

    def __dealloc__(self):
        free(self.games)

    def reset(self, long long seed):
        cdef int i
        for i in range(self.n):
            if seed >= 0:
                self.games[i].rng = rng_seed(<uint64_t>seed, self.first_index + i)
            reset_game(&self.games[i])
            write_obs(&self.games[i], &self.obs[i, 0])

    def first_invalid_action(self):
        cdef int i, bad = -1
        with nogil:
            for i in range(self.n):
                if self.continuous:
                    if not isfinite(self.act_c[i]):
                        bad = i
                        break
                elif self.act_d[i] < 0 or self.act_d[i] > 2:
                    bad = i
                    break
        return bad

    def step(self):
        cdef int i, f, a, point, done
        cdef float move, reward
        cdef Game* g
        cdef double* sums = &self.sums[0]
        with nogil:
            for i in range(self.n):
                g = &self.games[i]
                if self.continuous:
                    move = clampf(self.act_c[i], -1, 1)
                else:
                    a = self.act_d[i]
                    move = <float>((a == 2) - (a == 1))  # 1 up (y decreases), 2 down
                reward = 0
                done = 0
                for f in range(self.frameskip):
                    reward += step_frame(g, move, &point)
                    if point != 0:
                        if g.agent_score >= PG_WIN or g.opp_score >= PG_WIN:
                            done = 1
                        else:
                            serve(g)
                        break
                g.ep_return += reward
                g.ep_length += 1
                self.rewards[i] = reward
                self.terminals[i] = done
                self.truncations[i] = 0
                if done:
                    log_episode(sums, g.ep_return, g.ep_length, g.agent_score,
                                g.agent_score / <double>(g.agent_score + g.opp_score))
                    reset_game(g)
                write_obs(g, &self.obs[i, 0])

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef Game* g = &self.games[index]
        cdef int pad = <int>PG_PADDLE_W, a
        with nogil:
            fill_rect(frame, 0, g.opp_y, PG_PADDLE_W, PG_PADDLE_H, 230, 80, 80)
            fill_rect(frame, pad + PG_W, g.agent_y, PG_PADDLE_W, PG_PADDLE_H, 80, 220, 230)
            fill_rect(frame, pad + g.ball_x, g.ball_y, PG_BALL, PG_BALL, 240, 240, 240)
            # Score pips along the top: agent on the right half, opponent on the left.
            for a in range(g.opp_score):
                fill_rect(frame, pad + 8 + 10 * a, 6, 6, 6, 230, 80, 80)
            for a in range(g.agent_score):
                fill_rect(frame, pad + PG_W - 14 - 10 * a, 6, 6, 6, 80, 220, 230)

    # One copy's state as a dict, and scripted scenarios for tests.
    def get_state(self, int index):
        return self.games[index]

    def set_state(self, int index, **fields):
        self.games[index] = merged_state("Pong", self.games[index], fields)
        write_obs(&self.games[index], &self.obs[index, 0])
