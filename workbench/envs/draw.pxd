# Shared drawing helper for render(): fill a clipped rectangle of an RGB uint8 frame.


cdef inline void fill_rect(unsigned char[:, :, ::1] frame, float fx, float fy, float fw,
                           float fh, unsigned char r, unsigned char g,
                           unsigned char b) noexcept nogil:
    cdef int x0 = <int>fx, y0 = <int>fy, x1 = <int>(fx + fw), y1 = <int>(fy + fh), x, y
    if x0 < 0:
        x0 = 0
    if y0 < 0:
        y0 = 0
    if x1 > frame.shape[1]:
        x1 = <int>frame.shape[1]
    if y1 > frame.shape[0]:
        y1 = <int>frame.shape[0]
    for y in range(y0, y1):
        for x in range(x0, x1):
            frame[y, x, 0] = r
            frame[y, x, 1] = g
            frame[y, x, 2] = b
