/* Extra variables for the split image (link_split.ld): 1- and 2-byte objects, so peek and poke
   take their access width from the symbol size, and a file-local `counter` with the same name
   as main.c's global one (socdbg must prefer the global). */
volatile unsigned char flag8 = 0x5a;
volatile unsigned short half16 = 0xbeef;
static volatile unsigned int counter = 7;

volatile unsigned int *vars_counter(void)
{
    return &counter;
}
