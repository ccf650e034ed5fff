/* Linked into the "big" image: 3 MiB of .bss, so loading it zero-fills more than the
   1 MiB from which `load` shows a progress bar on a terminal. */
unsigned char big_buffer[3u << 20];
