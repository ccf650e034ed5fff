/* Bare-metal entry for the 32-bit (rv32) build: as start.S with 32-bit stores. */
    .section .text.start
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  call    main
    .globl  done
done:
    j       done
