/* The other `init` and `state` (see uart.c). The function body differs so the linker cannot
   fold the two into one address. */
static int state = 0x22;

__attribute__((noinline)) static int init(int x)
{
    state ^= x;
    return state + 7;
}

int spi_setup(int x)
{
    return init(x) - 1;
}
