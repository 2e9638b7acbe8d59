# Breakout: rules and observation layout in README.md next to this file.
#
# One Game struct per copy; the step loop runs over all copies without the GIL and
# writes straight into the numpy buffers owned by the Python wrapper.
# Units: positions in px (top-left corner of each box), velocities in px per frame,
# speeds in px per second (60 frames per second of game time).

from libc.math cimport cosf, floorf, isfinite, sinf
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

from workbench.envs.draw cimport fill_rect
from workbench.envs.common cimport log_episode, merged_state, rng_next, rng_seed

cdef extern from *:
    """
    #define BK_W 576.0f
    #define BK_H 330.0f
    #define BK_ROWS 6
    #define BK_COLS 18
    #define BK_BRICKS 108
    #define BK_BRICK_W 32.0f
    #define BK_BRICK_H 12.0f
    #define BK_BRICK_TOP 50.0f
    #define BK_PADDLE_W 62.0f
    #define BK_PADDLE_H 8.0f
    #define BK_PADDLE_Y 312.0f
    #define BK_BALL 32.0f
    #define BK_FPS 60.0f
    #define BK_PADDLE_SPEED (620.0f / 60.0f)
    #define BK_SPEED0 256.0f
    #define BK_SPEED_STEP 64.0f
    #define BK_SPEED_MAX 448.0f
    #define BK_WALL_SCORE 432
    #define BK_MAX_SCORE 864
    #define BK_SPARE_BALLS 5
    #define BK_OBS 118
    #define BK_FAR 1e30f
    #define BK_LAUNCH_ANGLE (3.14159265358979f / 3.25f)
    #define BK_BOUNCE_MAX (3.14159265358979f / 4.0f)
    #define BK_MAX_COLLISIONS 8
    """
    const float BK_W, BK_H, BK_BRICK_W, BK_BRICK_H, BK_BRICK_TOP, BK_PADDLE_W, BK_PADDLE_H
    const float BK_PADDLE_Y, BK_BALL, BK_FPS, BK_PADDLE_SPEED, BK_SPEED0, BK_SPEED_STEP
    const float BK_SPEED_MAX, BK_FAR, BK_LAUNCH_ANGLE, BK_BOUNCE_MAX
    const int BK_ROWS, BK_COLS, BK_BRICKS, BK_WALL_SCORE, BK_MAX_SCORE, BK_SPARE_BALLS
    const int BK_OBS, BK_MAX_COLLISIONS

# What the ball hit first in a sweep.
cdef enum Hit:
    HIT_NONE, HIT_SIDE_WALL, HIT_TOP_WALL, HIT_PADDLE_TOP, HIT_PADDLE_SIDE, HIT_BRICK

cdef struct Game:
    float paddle_x
    float paddle_w
    float ball_x
    float ball_y
    float vx
    float vy
    float speed
    int hits
    int score
    int balls_left
    int bricks_left
    int restore_pending
    int top_hit
    float ep_return
    int ep_length
    uint64_t rng
    float bricks[108]


cdef inline int brick_points(int row) noexcept nogil:
    # Rows 0-1 (top) score 7, rows 2-3 score 4, rows 4-5 score 1.
    return 7 - 3 * (row >> 1)


cdef inline void launch_ball(Game* g) noexcept nogil:
    # A new ball: centre of the field below the bricks, downward at pi/3.25 from horizontal.
    cdef float v = BK_SPEED0 / BK_FPS
    g.speed = BK_SPEED0
    g.hits = 0
    g.top_hit = 0
    g.paddle_w = BK_PADDLE_W
    if g.paddle_x > BK_W - g.paddle_w:
        g.paddle_x = BK_W - g.paddle_w
    g.ball_x = 0.5 * (BK_W - BK_BALL)
    g.ball_y = 0.5 * BK_H - 30.0
    g.vx = cosf(BK_LAUNCH_ANGLE) * v
    g.vy = sinf(BK_LAUNCH_ANGLE) * v
    if rng_next(&g.rng) & 1:
        g.vx = -g.vx


cdef inline void reset_game(Game* g) noexcept nogil:
    memset(g.bricks, 0, sizeof(g.bricks))
    g.bricks_left = BK_BRICKS
    g.score = 0
    g.balls_left = BK_SPARE_BALLS
    g.restore_pending = 0
    g.ep_return = 0
    g.ep_length = 0
    g.paddle_x = 0.5 * (BK_W - BK_PADDLE_W)
    launch_ball(g)


cdef inline float sweep_box(float x, float y, float vx, float vy, float x0, float y0,
                            float x1, float y1, float tmax, int* axis) noexcept nogil:
    # Time in [0, tmax) at which point (x, y) moving at (vx, vy) enters the open box
    # (x0, x1) x (y0, y1), or -1. The box is an obstacle grown by the ball's size
    # (Minkowski sum), so the point is the ball's top-left corner. axis: 0 = x face, 1 = y.
    cdef float tx0, tx1, ty0, ty1, t_enter, t_exit
    if vx > 0:
        tx0 = (x0 - x) / vx
        tx1 = (x1 - x) / vx
    elif vx < 0:
        tx0 = (x1 - x) / vx
        tx1 = (x0 - x) / vx
    elif x0 < x < x1:
        tx0 = -BK_FAR
        tx1 = BK_FAR
    else:
        return -1
    if vy > 0:
        ty0 = (y0 - y) / vy
        ty1 = (y1 - y) / vy
    elif vy < 0:
        ty0 = (y1 - y) / vy
        ty1 = (y0 - y) / vy
    elif y0 < y < y1:
        ty0 = -BK_FAR
        ty1 = BK_FAR
    else:
        return -1
    if tx0 > ty0:
        t_enter = tx0
        axis[0] = 0
    else:
        t_enter = ty0
        axis[0] = 1
    t_exit = tx1 if tx1 < ty1 else ty1
    if t_enter < 0 or t_enter >= tmax or t_enter >= t_exit:
        return -1
    return t_enter


cdef inline void paddle_bounce(Game* g) noexcept nogil:
    # Angle linear in the hit position, -45 deg (left end) to +45 deg (right end).
    cdef float rel = (g.ball_x + 0.5 * BK_BALL - g.paddle_x) / g.paddle_w
    cdef float angle, v
    if rel < 0:
        rel = 0
    elif rel > 1:
        rel = 1
    g.hits += 1
    if g.hits % 4 == 0 and g.speed < BK_SPEED_MAX:
        g.speed = g.speed + BK_SPEED_STEP
        if g.speed > BK_SPEED_MAX:
            g.speed = BK_SPEED_MAX
    angle = (2.0 * rel - 1.0) * BK_BOUNCE_MAX
    v = g.speed / BK_FPS
    g.vx = sinf(angle) * v
    g.vy = -cosf(angle) * v
    if g.restore_pending:
        memset(g.bricks, 0, sizeof(g.bricks))
        g.bricks_left = BK_BRICKS
        g.restore_pending = 0


cdef inline int move_ball(Game* g) noexcept nogil:
    # Advance the ball by one frame, resolving collisions in time order (earliest time of
    # impact first), so no speed can tunnel through a brick or the paddle. Returns points.
    cdef float rem = 1.0
    cdef float x, y, vx, vy, t, t_best, xa, xb, ya, yb, bx, by, scale
    cdef int kind, axis, hit_axis = 0, hit_brick = 0, points = 0
    cdef int r, c, r0, r1, c0, c1, idx, it
    for it in range(BK_MAX_COLLISIONS):
        x = g.ball_x
        y = g.ball_y
        vx = g.vx
        vy = g.vy
        t_best = rem
        kind = HIT_NONE
        # Walls: left, right, top (the bottom is open).
        if vx < 0:
            t = -x / vx
            if t < t_best:
                t_best = t if t > 0 else 0
                kind = HIT_SIDE_WALL
        elif vx > 0:
            t = (BK_W - BK_BALL - x) / vx
            if t < t_best:
                t_best = t if t > 0 else 0
                kind = HIT_SIDE_WALL
        if vy < 0:
            t = -y / vy
            if t < t_best:
                t_best = t if t > 0 else 0
                kind = HIT_TOP_WALL
        # Paddle, only while the ball falls and can reach it this frame.
        if vy > 0 and y + BK_BALL + vy * rem > BK_PADDLE_Y and y < BK_PADDLE_Y + BK_PADDLE_H:
            t = sweep_box(x, y, vx, vy, g.paddle_x - BK_BALL, BK_PADDLE_Y - BK_BALL,
                          g.paddle_x + g.paddle_w, BK_PADDLE_Y + BK_PADDLE_H, t_best, &axis)
            if t >= 0:
                t_best = t
                kind = HIT_PADDLE_TOP if axis == 1 else HIT_PADDLE_SIDE
        # Bricks: only the grid cells the swept ball can touch this frame.
        ya = y + (vy * rem if vy < 0 else 0)
        yb = y + BK_BALL + (vy * rem if vy > 0 else 0)
        if yb > BK_BRICK_TOP and ya < BK_BRICK_TOP + BK_ROWS * BK_BRICK_H:
            xa = x + (vx * rem if vx < 0 else 0)
            xb = x + BK_BALL + (vx * rem if vx > 0 else 0)
            r0 = <int>floorf((ya - BK_BRICK_TOP) / BK_BRICK_H)
            r1 = <int>floorf((yb - BK_BRICK_TOP) / BK_BRICK_H)
            c0 = <int>floorf(xa / BK_BRICK_W)
            c1 = <int>floorf(xb / BK_BRICK_W)
            if r0 < 0:
                r0 = 0
            if r1 > BK_ROWS - 1:
                r1 = BK_ROWS - 1
            if c0 < 0:
                c0 = 0
            if c1 > BK_COLS - 1:
                c1 = BK_COLS - 1
            for r in range(r0, r1 + 1):
                by = BK_BRICK_TOP + r * BK_BRICK_H
                for c in range(c0, c1 + 1):
                    idx = r * BK_COLS + c
                    if g.bricks[idx] != 0:
                        continue
                    bx = c * BK_BRICK_W
                    t = sweep_box(x, y, vx, vy, bx - BK_BALL, by - BK_BALL,
                                  bx + BK_BRICK_W, by + BK_BRICK_H, t_best, &axis)
                    if t >= 0:
                        t_best = t
                        kind = HIT_BRICK
                        hit_brick = idx
                        hit_axis = axis

        g.ball_x = x + vx * t_best
        g.ball_y = y + vy * t_best
        rem -= t_best
        if kind == HIT_NONE:
            break
        # Respond, snapping the contact coordinate exactly onto the surface.
        if kind == HIT_SIDE_WALL:
            g.ball_x = 0 if vx < 0 else BK_W - BK_BALL
            g.vx = -vx
        elif kind == HIT_TOP_WALL:
            g.ball_y = 0
            g.vy = -vy
            if not g.top_hit:
                # The paddle shrinks to half until the next ball.
                g.top_hit = 1
                g.paddle_w = 0.5 * BK_PADDLE_W
        elif kind == HIT_PADDLE_TOP:
            g.ball_y = BK_PADDLE_Y - BK_BALL
            paddle_bounce(g)
        elif kind == HIT_PADDLE_SIDE:
            g.ball_x = g.paddle_x - BK_BALL if vx > 0 else g.paddle_x + g.paddle_w
            g.vx = -vx
        else:
            r = hit_brick // BK_COLS
            c = hit_brick - r * BK_COLS
            if hit_axis == 0:
                g.ball_x = c * BK_BRICK_W - BK_BALL if vx > 0 else (c + 1) * BK_BRICK_W
                g.vx = -vx
            else:
                by = BK_BRICK_TOP + r * BK_BRICK_H
                g.ball_y = by - BK_BALL if vy > 0 else by + BK_BRICK_H
                g.vy = -vy
            g.bricks[hit_brick] = 1
            g.bricks_left -= 1
            g.score += brick_points(r)
            points += brick_points(r)
            if r < 3 and g.speed != BK_SPEED_MAX:
                scale = BK_SPEED_MAX / g.speed
                g.vx *= scale
                g.vy *= scale
                g.speed = BK_SPEED_MAX
            if g.score >= BK_MAX_SCORE:
                break
            if g.bricks_left == 0:
                g.restore_pending = 1
        if rem <= 0:
            break
    return points


cdef inline int step_game(Game* g, float dx, int frameskip, int* done) noexcept nogil:
    # One agent step: repeat the paddle move for `frameskip` frames; returns points.
    cdef int f, points = 0
    done[0] = 0
    for f in range(frameskip):
        g.paddle_x += dx
        if g.paddle_x < 0:
            g.paddle_x = 0
        elif g.paddle_x > BK_W - g.paddle_w:
            g.paddle_x = BK_W - g.paddle_w
        points += move_ball(g)
        if g.score >= BK_MAX_SCORE:
            done[0] = 1
            break
        if g.ball_y >= BK_PADDLE_Y + BK_PADDLE_H:
            # Lost past the paddle.
            if g.balls_left == 0:
                done[0] = 1
                break
            g.balls_left -= 1
            launch_ball(g)
    return points


cdef inline void write_obs(Game* g, float* o) noexcept nogil:
    o[0] = g.paddle_x * (1.0 / BK_W)
    o[1] = BK_PADDLE_Y * (1.0 / BK_H)
    o[2] = g.ball_x * (1.0 / BK_W)
    o[3] = g.ball_y * (1.0 / BK_H)
    o[4] = g.vx * (1.0 / 512.0)
    o[5] = g.vy * (1.0 / 512.0)
    o[6] = 1.0 / 5.0
    o[7] = g.score * (1.0 / BK_MAX_SCORE)
    o[8] = g.balls_left * (1.0 / BK_SPARE_BALLS)
    o[9] = g.paddle_w * (1.0 / BK_PADDLE_W)
    memcpy(o + 10, g.bricks, sizeof(g.bricks))


cdef class BreakoutCore:
    """Compiled state of every copy; the Python wrapper owns the buffers."""

    cdef Game* games
    cdef int n
    cdef int frameskip
    cdef bint continuous
    cdef float[:, ::1] obs
    cdef int[::1] act_d
    cdef float[::1] act_c
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals
    cdef unsigned char[::1] truncations
    cdef double[::1] sums
    cdef uint64_t first_index  # global index of the first copy: RNG streams follow it

    def __cinit__(self, float[:, ::1] obs, final_obs, actions, float[::1] rewards,
                  unsigned char[::1] terminals, unsigned char[::1] truncations,
                  double[::1] sums, uint64_t seed, int frameskip, bint continuous,
                  uint64_t first_index=0):
        self.n = obs.shape[0]
        self.games = <Game*>calloc(self.n, sizeof(Game))
        if self.games == NULL:
            raise MemoryError(f"cannot allocate {self.n} Breakout copies")
        self.obs = obs
        self.continuous = continuous
        if continuous:
            self.act_c = actions.reshape(-1)
        else:
            self.act_d = actions
        self.rewards = rewards
        self.terminals = terminals
        self.truncations = truncations
        self.sums = sums
        self.frameskip = frameskip
        self.first_index = first_index
        self.reset(seed)

    def __dealloc__(self):
        free(self.games)

    def reset(self, long long seed):
        cdef int i
        with nogil:
            for i in range(self.n):
                if seed >= 0:
                    self.games[i].rng = rng_seed(<uint64_t>seed, self.first_index + i)
                reset_game(&self.games[i])
                write_obs(&self.games[i], &self.obs[i, 0])

    def first_invalid_action(self):
        cdef int i, a, bad = -1
        cdef float x
        with nogil:
            if self.continuous:
                for i in range(self.n):
                    x = self.act_c[i]
                    if not isfinite(x):
                        bad = i
                        break
            else:
                for i in range(self.n):
                    a = self.act_d[i]
                    if a < 0 or a > 2:
                        bad = i
                        break
        return bad

    def step(self):
        cdef int i, done, points, fs = self.frameskip
        cdef float a, dx
        cdef Game* g
        cdef double* sums = &self.sums[0]
        with nogil:
            for i in range(self.n):
                g = &self.games[i]
                if self.continuous:
                    a = self.act_c[i]
                    if a > 1:
                        a = 1
                    elif a < -1:
                        a = -1
                    dx = a * BK_PADDLE_SPEED
                else:
                    a = self.act_d[i]
                    dx = BK_PADDLE_SPEED * ((a == 2) - (a == 1))
                points = step_game(g, dx, fs, &done)
                g.ep_return += points
                g.ep_length += 1
                self.rewards[i] = points
                self.terminals[i] = done
                self.truncations[i] = 0
                if done:
                    log_episode(sums, g.ep_return, g.ep_length, g.score,
                                g.score * (1.0 / BK_MAX_SCORE))
                    reset_game(g)
                write_obs(g, &self.obs[i, 0])

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef Game* g = &self.games[index]
        cdef int r, c
        # Row colours, top to bottom (red, orange, yellow, green, cyan, blue).
        cdef unsigned char[6][3] colors = [
            [200, 72, 72], [198, 108, 58], [180, 122, 48],
            [162, 162, 42], [72, 160, 72], [66, 72, 200]]
        with nogil:
            for r in range(BK_ROWS):
                for c in range(BK_COLS):
                    if g.bricks[r * BK_COLS + c] == 0:
                        fill_rect(frame, c * BK_BRICK_W + 1, BK_BRICK_TOP + r * BK_BRICK_H + 1,
                             BK_BRICK_W - 2, BK_BRICK_H - 2,
                             colors[r][0], colors[r][1], colors[r][2])
            fill_rect(frame, g.paddle_x, BK_PADDLE_Y, g.paddle_w, BK_PADDLE_H, 200, 72, 72)
            fill_rect(frame, g.ball_x, g.ball_y, BK_BALL, BK_BALL, 236, 236, 236)

    # One copy's state as a dict, and scripted scenarios for tests (the observation is
    # rewritten to match; setting ``bricks`` recounts ``bricks_left``).
    def get_state(self, int index):
        return self.games[index]

    def set_state(self, int index, **fields):
        cdef Game* g = &self.games[index]
        cdef int i
        g[0] = merged_state("Breakout", g[0], fields)
        if "bricks" in fields:
            g.bricks_left = 0
            for i in range(BK_BRICKS):
                g.bricks_left += g.bricks[i] == 0
        write_obs(g, &self.obs[index, 0])
