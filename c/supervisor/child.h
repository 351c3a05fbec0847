// What every process the supervisor starts (the app, a refresh process)
// undoes of the supervisor's signal set-up before its exec.
#ifndef CT_SUPERVISOR_CHILD_H
#define CT_SUPERVISOR_CHILD_H

// Every signal back to SIG_DFL and an empty mask. Returns 0 or -1 (errno).
int reset_signals(void);

#endif
