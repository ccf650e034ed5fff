/* Two files with a static function of the same name (uart.c and spi.c each have their own
   `init`, and their own `static int state`): socdbg must list both with their file and refuse
   to guess which one a bare `init` means. */
static int state = 0x11;

__attribute__((noinline)) static int init(int x)
{
    state += x;
    return state * 3;
}

int uart_setup(int x)
{
    return init(x) + 1;
}
