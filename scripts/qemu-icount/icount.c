/*
 * icount: a qemu-user TCG plugin that counts the guest instructions and
 * translation blocks the agent executes, for edgeflow-load --icount.
 *
 * CPU time under qemu on a shared machine moves by ±40 % from one run to
 * the next; the instruction count of the same load moves by under 1 %, so
 * it tells a change of a few percent apart. It is not a gateway's CPU
 * time: wakeups, cache misses and the emulator's own work are not in it.
 *
 * Arguments: out=FILE. A thread writes "insns tbs translations" to FILE
 * every 100 ms. When FILE.dump exists, it also writes FILE.prof, one line
 * per translation block executed ("pc insns count", hex pc), and removes
 * FILE.dump: edgeflow-load takes one at the start of the load and one at
 * its end, and names the functions the difference went to.
 *
 * Built by build.sh. The API declarations below are those of qemu's
 * include/qemu/qemu-plugin.h at QEMU_PLUGIN_VERSION 1 (qemu 7.2, Debian
 * 12), which Debian does not package.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;
typedef struct {
	const char *target_name;
	struct { int min, cur; } version;
	bool system_emulation;
	union { struct { int smp_vcpus, max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t, struct qemu_plugin_tb *);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb_t);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op, void *, uint64_t);

/* Inline adds from several guest threads race; the agent runs its Go
 * code on one thread at a time (GOMAXPROCS=1), so little is lost. */
static uint64_t insns, tbs, trans;

struct block { uint64_t pc, n, count; };
#define MAXBLOCKS (1 << 20)
static struct block *blocks[MAXBLOCKS];
static int nblocks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char out[512];

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	__atomic_add_fetch(&trans, 1, __ATOMIC_RELAXED);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns, n);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &tbs, 1);
	struct block *b = calloc(1, sizeof *b);
	if (!b)
		return;
	b->pc = qemu_plugin_tb_vaddr(tb);
	b->n = n;
	pthread_mutex_lock(&mu);
	if (nblocks < MAXBLOCKS)
		blocks[nblocks++] = b;
	pthread_mutex_unlock(&mu);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
}

/* replace writes path through a temporary file, so that a reader never
 * sees half of it. */
static void dump_counts(void)
{
	char tmp[600];
	snprintf(tmp, sizeof tmp, "%s.tmp", out);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%llu %llu %llu\n", (unsigned long long)insns, (unsigned long long)tbs, (unsigned long long)trans);
	fclose(f);
	rename(tmp, out);
}

static void dump_blocks(void)
{
	char tmp[600], dst[600];
	snprintf(tmp, sizeof tmp, "%s.prof.tmp", out);
	snprintf(dst, sizeof dst, "%s.prof", out);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	pthread_mutex_lock(&mu);
	int n = nblocks;
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		if (blocks[i]->count)
			fprintf(f, "%llx %llu %llu\n", (unsigned long long)blocks[i]->pc,
				(unsigned long long)blocks[i]->n, (unsigned long long)blocks[i]->count);
	fclose(f);
	rename(tmp, dst);
}

static void *writer(void *arg)
{
	char trigger[600];
	snprintf(trigger, sizeof trigger, "%s.dump", out);
	for (;;) {
		usleep(100000);
		dump_counts();
		if (access(trigger, F_OK) == 0) {
			dump_blocks();
			unlink(trigger);
		}
	}
	return NULL;
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "out=", 4) == 0)
			snprintf(out, sizeof out, "%s", argv[i] + 4);
	if (!out[0]) {
		fprintf(stderr, "icount: give out=FILE\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	pthread_t t;
	return pthread_create(&t, NULL, writer, NULL);
}
