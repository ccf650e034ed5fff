/* A tiny firmware with the kinds of symbols a bring-up engineer reads by name. */
volatile unsigned int counter = 0x1234;      /* .data */
volatile unsigned long long ticks;           /* .bss  */
const char banner[] = "socdbg test firmware";/* .rodata */
unsigned int table[64];                       /* .bss, 256 bytes */

static unsigned int mix(unsigned int x) { return x * 2654435761u; }

int main(void)
{
    for (unsigned int i = 0; i < 64; i++)
        table[i] = mix(i);
    for (;;) {
        counter++;
        ticks += 3;
        if (counter == 0x1240)
            return 0;
    }
}
