// socdbg rtl: harness -- drives the Verilated socdbg_top over a line protocol on stdin/stdout.
//
// Requests, one per line (numbers in hex):
//   r ADDR                       APB read        -> "d VALUE" | "e WHY"
//   w ADDR VALUE STRB            APB write       -> "k" | "e WHY"
//   s CYCLES                     advance time    -> "t NOW"
//   u ADDR KEEP SHIFT OP VAL MAX run until ((read(ADDR) & KEEP) >> SHIFT) OP VAL, checking
//                                now and after each of at most MAX cycles -> "t 0|1 NOW"
//                                (OP: 0 ==, 1 !=, 2 <=, 3 >=, 4 <, 5 >)
//   h INDEX VALUE PULSE          sideband entry INDEX holds VALUE (PULSE 0: from now on;
//                                1: for one cycle); two clock edges, no time -> "k"
//   x                            chip reset      -> "k"
//   f                            flush the answers written so far (no answer of its own)
//   q                            quit
// Simulated time ("now") is an input of the top; bus transfers take clock edges, not time.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "Vsocdbg_top.h"
#include "verilated.h"

static Vsocdbg_top* top;
static uint64_t now_cycles = 0;
static const int MAX_WAIT = 64;  // clock edges a transfer may take before it is a hang

static void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
}

// One APB transfer; returns 0 ok, 1 slave error, 2 no ready (hang).
static int apb(bool write, uint32_t addr, uint32_t wdata, uint32_t strb, uint32_t* rdata) {
    top->now = now_cycles;
    top->psel = 1;
    top->penable = 0;
    top->pwrite = write;
    top->paddr = addr;
    top->pwdata = wdata;
    top->pstrb = write ? strb : 0;
    tick();
    top->penable = 1;
    int waited = 0;
    top->eval();
    while (!top->pready) {
        if (++waited > MAX_WAIT) {
            top->psel = 0;
            top->penable = 0;
            tick();
            return 2;
        }
        tick();
    }
    *rdata = top->prdata;
    int err = top->pslverr ? 1 : 0;
    tick();
    top->psel = 0;
    top->penable = 0;
    top->eval();
    return err;
}

// Sideband entry: one edge stores it, the next lets the blocks sample it (a pulse ends there).
static void sideband(uint32_t index, uint64_t value, bool pulse) {
    top->now = now_cycles;
    top->sb_addr = index;
    top->sb_data = value;
    top->sb_pulse = pulse;
    top->sb_we = 1;
    tick();
    top->sb_we = 0;
    tick();
}

static void reset() {
    top->now = now_cycles;
    top->psel = 0;
    top->penable = 0;
    top->sb_we = 0;
    top->rst = 1;
    tick();
    tick();
    top->rst = 0;
    tick();
}

// Clock edges at the current time before time moves on, so that what the last bus write
// started (an enable edge, a singlepulse, an interrupt a status change raises) happens at the
// time of the write, as on the functional model.
static const int SETTLE = 2;

static void advance(uint64_t cycles) {
    top->now = now_cycles;
    for (int i = 0; i < SETTLE; i++) tick();
    now_cycles += cycles;
    top->now = now_cycles;
    tick();  // the hardware side sees the new time
}

static bool holds(uint64_t v, int op, uint64_t val) {
    switch (op) {
        case 0: return v == val;
        case 1: return v != val;
        case 2: return v <= val;
        case 3: return v >= val;
        case 4: return v < val;
        case 5: return v > val;
    }
    return false;
}

static const char* why(int rc) { return rc == 1 ? "slave error" : "no response"; }

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    top = new Vsocdbg_top;
    reset();
    std::printf("ready\n");
    std::fflush(stdout);
    char line[256];
    while (std::fgets(line, sizeof line, stdin)) {
        if (!std::strchr(line, '\n')) {  // longer than any request: refuse and stop
            std::printf("e request too long\n");
            break;
        }
        unsigned long long a = 0, b = 0, c = 0, d = 0, e = 0, g = 0;
        uint32_t rdata = 0;
        switch (line[0]) {
            case 'r':
                if (std::sscanf(line + 1, "%llx", &a) != 1) goto bad;
                {
                    int rc = apb(false, (uint32_t)a, 0, 0, &rdata);
                    if (rc) std::printf("e %s\n", why(rc));
                    else std::printf("d %x\n", rdata);
                }
                break;
            case 'w':
                if (std::sscanf(line + 1, "%llx %llx %llx", &a, &b, &c) != 3) goto bad;
                {
                    int rc = apb(true, (uint32_t)a, (uint32_t)b, (uint32_t)c & 0xF, &rdata);
                    if (rc) std::printf("e %s\n", why(rc));
                    else std::printf("k\n");
                }
                break;
            case 's':
                if (std::sscanf(line + 1, "%llx", &a) != 1) goto bad;
                advance(a);
                std::printf("t %llx\n", (unsigned long long)now_cycles);
                break;
            case 'u': {
                if (std::sscanf(line + 1, "%llx %llx %llx %llx %llx %llx", &a, &b, &c, &d, &e,
                                &g) != 6 || c > 63 || d > 5) goto bad;
                bool held = false;
                int rc = 0;
                for (unsigned long long i = 0;; i++) {
                    rc = apb(false, (uint32_t)a, 0, 0, &rdata);
                    if (rc) break;
                    if (holds(((uint64_t)rdata & b) >> c, (int)d, e)) { held = true; break; }
                    if (i == g) break;
                    advance(1);
                }
                if (rc) std::printf("e %s\n", why(rc));
                else std::printf("t %d %llx\n", held ? 1 : 0, (unsigned long long)now_cycles);
                break;
            }
            case 'h':
                if (std::sscanf(line + 1, "%llx %llx %llx", &a, &b, &c) != 3 || a > 0xFFFF
                    || c > 1) goto bad;
                sideband((uint32_t)a, (uint64_t)b, c == 1);
                std::printf("k\n");
                break;
            case 'x':
                reset();
                std::printf("k\n");
                break;
            case 'f':
                std::fflush(stdout);
                break;
            case 'q':
                std::fflush(stdout);
                top->final();
                delete top;
                return 0;
            default:
            bad:
                std::printf("e bad request\n");
        }
    }
    std::fflush(stdout);
    top->final();
    delete top;
    return 0;
}
