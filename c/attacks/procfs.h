/* What the attack programs share about a target's /proc entries. */
#ifndef CT_ATTACK_PROCFS_H
#define CT_ATTACK_PROCFS_H

#include <stdio.h>

/* The thread group of a thread id, as /proc/<tid>/status says; 0 if gone. */
static inline int tgid_of(int tid)
{
	char path[64], line[128];
	int tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

#endif
