# Branches taken and not, jal and jalr (links, the low bit of jalr's target cleared), and
# syscalls QEMU and the VM answer alike: a bad fd and an unknown number.
    .include "prologue.inc"
    li s0, -1
    li s1, 1
    li a0, 0
    beq s0, s1, 1f
    addi a0, a0, 1
1:  bne s0, s1, 1f
    addi a0, a0, 2
1:  blt s0, s1, 1f
    addi a0, a0, 4
1:  bge s0, s1, 1f
    addi a0, a0, 8
1:  bltu s0, s1, 1f
    addi a0, a0, 16
1:  bgeu s0, s1, 1f
    addi a0, a0, 32
1:  jal a1, 1f
    addi a0, a0, 64
1:  la a2, 1f
    addi a2, a2, 1
    jalr a3, 0(a2)
    addi a0, a0, 128
1:  sub a1, a1, a3            # links relative to each other
    li s2, 10
    li s3, 0
2:  addi s3, s3, 3            # a loop, backwards branch
    addi s2, s2, -1
    bnez s2, 2b
    li a7, 64                 # write(9, ...): EBADF
    li a0, 9
    mv a1, sp
    li a2, 4
    ecall
    mv s4, a0
    li a7, 63                 # read(9, ...): EBADF
    li a0, 9
    ecall
    mv s5, a0
    li a7, 500                # no such call: ENOSYS
    ecall
    mv s6, a0
    fence
    fence.i
    j dump
    .include "epilogue.inc"
