# Multi-agent Snake: rules in README.md next to this file.
#
# Each copy is one grid (width x height cells, a wall border `vision` cells thick) with
# many snakes, each an agent. Snakes move in index order; observations (the window of
# tile codes around each head) are written after every snake of the copy has moved.
# Unlike the reference, a death is a terminal for that agent.

from libc.stdint cimport int8_t, int32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

from workbench.envs.common cimport log_episode, rng_int, rng_seed
from workbench.envs.draw cimport fill_rect

cdef enum:
    EMPTY = 0
    FOOD = 1
    CORPSE = 2
    WALL = 3
    SNAKE0 = 4          # snake bodies use codes 4..7 (four colours)
    NUM_TILES = 8
    MAX_LENGTH = 1024
    PERF_LENGTH = 100   # perf = length at death / PERF_LENGTH, capped at 1 (README.md)

cdef struct Snake:
    int32_t* body       # ring buffer of cell indices, MAX_LENGTH long; head at body[head]
    int head            # index of the head in the ring
    int length
    int direction       # 0 up, 1 down, 2 left, 3 right
    int8_t color
    float ep_return
    int ep_length

cdef struct Grid:
    int8_t* cells
    Snake* snakes
    uint64_t rng


cdef class SnakeCore:
    cdef Grid* grids
    cdef int32_t* bodies
    cdef int n_grids, n_snakes, n_food, vision, width, height, window
    cdef bint leave_corpse
    cdef int dx[4]
    cdef int dy[4]
    cdef int8_t[:, :, ::1] obs
    cdef int[::1] actions
    cdef float[::1] rewards
    cdef unsigned char[::1] terminals, truncations
    cdef double[::1] sums
    cdef uint64_t first_index  # global index of the first grid: RNG streams follow it

    def __cinit__(self, int8_t[:, :, ::1] obs, final_obs, int[::1] actions,
                  float[::1] rewards, unsigned char[::1] terminals,
                  unsigned char[::1] truncations, double[::1] sums, uint64_t seed,
                  int num_snakes, int num_food, int vision, int width, int height,
                  bint leave_corpse, uint64_t first_index=0):
        # A copy is a grid of num_snakes agents: the buffers' rows say how many grids.
        cdef int n_grids = obs.shape[0] // num_snakes, n_snakes = num_snakes, n_food = num_food
        cdef int g, s
        self.n_grids, self.n_snakes, self.n_food = n_grids, n_snakes, n_food
        self.vision, self.width, self.height = vision, width, height
        self.window = 2 * vision + 1
        self.leave_corpse = leave_corpse
        self.first_index = first_index
        self.dx[:] = [0, 0, -1, 1]
        self.dy[:] = [-1, 1, 0, 0]
        self.obs, self.actions, self.rewards = obs, actions, rewards
        self.terminals, self.truncations, self.sums = terminals, truncations, sums
        self.grids = <Grid*>calloc(n_grids, sizeof(Grid))
        self.bodies = <int32_t*>calloc(<size_t>n_grids * n_snakes * MAX_LENGTH, sizeof(int32_t))
        if self.grids == NULL or self.bodies == NULL:
            raise MemoryError(f"cannot allocate {n_grids} Snake grids")
        for g in range(n_grids):
            self.grids[g].cells = <int8_t*>calloc(<size_t>width * height, sizeof(int8_t))
            self.grids[g].snakes = <Snake*>calloc(n_snakes, sizeof(Snake))
            if self.grids[g].cells == NULL or self.grids[g].snakes == NULL:
                raise MemoryError(f"cannot allocate Snake grid {g}")
            for s in range(n_snakes):
                self.grids[g].snakes[s].body = self.bodies + (<size_t>g * n_snakes + s) * MAX_LENGTH
                self.grids[g].snakes[s].color = SNAKE0 + s % 4
        self.reset(seed)

    def __dealloc__(self):
        cdef int g
        if self.grids != NULL:
            for g in range(self.n_grids):
                free(self.grids[g].cells)
                free(self.grids[g].snakes)
        free(self.grids)
        free(self.bodies)

    cdef int free_cell(self, Grid* grid) noexcept nogil:
        # A uniformly random empty cell inside the border (rejection sampling: the grid is
        # mostly empty; validation keeps snakes + food well below the free area).
        cdef int inner_w = self.width - 2 * self.vision, inner_h = self.height - 2 * self.vision
        cdef int x, y, cell
        while True:
            x = self.vision + rng_int(&grid.rng, inner_w)
            y = self.vision + rng_int(&grid.rng, inner_h)
            cell = y * self.width + x
            if grid.cells[cell] == EMPTY:
                return cell

    cdef void spawn(self, Grid* grid, Snake* snake) noexcept nogil:
        cdef int cell = self.free_cell(grid)
        snake.head = 0
        snake.length = 1
        snake.body[0] = cell
        snake.direction = rng_int(&grid.rng, 4)
        snake.ep_return = 0
        snake.ep_length = 0
        grid.cells[cell] = snake.color

    cdef void kill(self, Grid* grid, Snake* snake) noexcept nogil:
        # The body is cleared; with leave_corpse every other cell becomes a corpse.
        cdef int k, cell
        for k in range(snake.length):
            cell = snake.body[(snake.head - k + MAX_LENGTH) % MAX_LENGTH]
            grid.cells[cell] = CORPSE if (self.leave_corpse and k % 2 == 1) else EMPTY

    def reset(self, long long seed):
        cdef int g, s, f, x, y, w = self.width, h = self.height, v = self.vision
        cdef Grid* grid
        for g in range(self.n_grids):
            grid = &self.grids[g]
            if seed >= 0:
                grid.rng = rng_seed(<uint64_t>seed, self.first_index + g)
            memset(grid.cells, WALL, <size_t>w * h)
            for y in range(v, h - v):
                memset(grid.cells + y * w + v, EMPTY, w - 2 * v)
            for s in range(self.n_snakes):
                self.spawn(grid, &grid.snakes[s])
            for f in range(self.n_food):
                grid.cells[self.free_cell(grid)] = FOOD
        with nogil:
            self.write_obs()

    cdef void write_obs(self) noexcept nogil:
        cdef int g, s, y, cell, x0, y0, agent, win = self.window
        cdef Grid* grid
        for g in range(self.n_grids):
            grid = &self.grids[g]
            for s in range(self.n_snakes):
                agent = g * self.n_snakes + s
                cell = grid.snakes[s].body[grid.snakes[s].head]
                x0 = cell % self.width - self.vision
                y0 = cell // self.width - self.vision
                for y in range(win):
                    memcpy(&self.obs[agent, y, 0], grid.cells + (y0 + y) * self.width + x0, win)

    def first_invalid_action(self):
        cdef int i, bad = -1
        with nogil:
            for i in range(self.n_grids * self.n_snakes):
                if self.actions[i] < 0 or self.actions[i] > 3:
                    bad = i
                    break
        return bad

    def step(self):
        cdef int g, s, agent, a, d, head, nxt, tile, tail
        cdef float reward
        cdef Grid* grid
        cdef Snake* snake
        cdef double* sums = &self.sums[0]
        with nogil:
            for g in range(self.n_grids):
                grid = &self.grids[g]
                for s in range(self.n_snakes):
                    agent = g * self.n_snakes + s
                    snake = &grid.snakes[s]
                    a = self.actions[agent]
                    d = snake.direction
                    # Turning back into its own neck keeps it going straight.
                    if not (snake.length > 1 and (a ^ 1) == d):
                        d = a
                    snake.direction = d
                    head = snake.body[snake.head]
                    nxt = head + self.dx[d] + self.dy[d] * self.width
                    tile = grid.cells[nxt]
                    snake.ep_length += 1
                    self.truncations[agent] = 0
                    if tile == WALL or tile >= SNAKE0:
                        reward = -1.0
                        snake.ep_return += reward
                        log_episode(sums, snake.ep_return, snake.ep_length, snake.length,
                                    min(1.0, snake.length / <double>PERF_LENGTH))
                        self.kill(grid, snake)
                        self.spawn(grid, snake)
                        self.rewards[agent] = reward
                        self.terminals[agent] = 1
                        continue
                    if tile == FOOD or tile == CORPSE:
                        reward = 0.1
                        if snake.length < MAX_LENGTH:
                            snake.length += 1
                        else:
                            tail = snake.body[(snake.head - snake.length + 1 + MAX_LENGTH) % MAX_LENGTH]
                            grid.cells[tail] = EMPTY
                        if tile == FOOD:
                            grid.cells[nxt] = snake.color  # claim before choosing a new spot
                            grid.cells[self.free_cell(grid)] = FOOD
                    else:
                        reward = 0.0
                        tail = snake.body[(snake.head - snake.length + 1 + MAX_LENGTH) % MAX_LENGTH]
                        grid.cells[tail] = EMPTY
                    snake.head = (snake.head + 1) % MAX_LENGTH
                    snake.body[snake.head] = nxt
                    grid.cells[nxt] = snake.color
                    snake.ep_return += reward
                    self.rewards[agent] = reward
                    self.terminals[agent] = 0
            self.write_obs()

    def render(self, int index, unsigned char[:, :, ::1] frame):
        cdef Grid* grid = &self.grids[index]
        cdef int x, y, t
        cdef unsigned char[8][3] colors = [
            [12, 16, 20], [90, 220, 90], [130, 90, 60], [70, 70, 80],
            [230, 90, 90], [90, 160, 240], [240, 200, 80], [200, 110, 230]]
        with nogil:
            for y in range(self.height):
                for x in range(self.width):
                    t = grid.cells[y * self.width + x]
                    frame[y, x, 0] = colors[t][0]
                    frame[y, x, 1] = colors[t][1]
                    frame[y, x, 2] = colors[t][2]

    # -- for tests: inspect and script one grid --
    def cells(self, int index):
        import numpy as np

        grid = np.empty((self.height, self.width), dtype=np.int8)
        memcpy(<void*><size_t>grid.ctypes.data, self.grids[index].cells,
               <size_t>self.width * self.height)
        return grid

    def snake(self, int index, int s):
        cdef Snake* snake = &self.grids[index].snakes[s]
        body = [snake.body[(snake.head - k + MAX_LENGTH) % MAX_LENGTH]
                for k in range(snake.length)]
        return dict(body=[(c % self.width, c // self.width) for c in body],
                    direction=snake.direction, length=snake.length, color=snake.color,
                    ep_return=snake.ep_return, ep_length=snake.ep_length)

    def set_cell(self, int index, int x, int y, int tile):
        self.grids[index].cells[y * self.width + x] = tile

    def place_snake(self, int index, int s, body, int direction):
        """Put snake s at the given (x, y) cells, head first; clears its old body."""
        cdef Grid* grid = &self.grids[index]
        cdef Snake* snake = &grid.snakes[s]
        cdef int k
        for k in range(snake.length):
            grid.cells[snake.body[(snake.head - k + MAX_LENGTH) % MAX_LENGTH]] = EMPTY
        snake.length = len(body)
        snake.head = snake.length - 1
        for k, (x, y) in enumerate(body):
            snake.body[snake.head - k] = y * self.width + x
            grid.cells[y * self.width + x] = snake.color
        snake.direction = direction
        with nogil:
            self.write_obs()
