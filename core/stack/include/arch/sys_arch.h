/* lwIP operating-system port types for ntmobile; implemented with C++ threads in sys_arch.cc. */
#ifndef NTM_LWIP_ARCH_SYS_ARCH_H
#define NTM_LWIP_ARCH_SYS_ARCH_H

#ifdef __cplusplus
extern "C" {
#endif

struct ntm_sys_sem;
struct ntm_sys_mutex;
struct ntm_sys_mbox;

/* Each handle is a pointer; NULL means "invalid" (lwIP's sys_*_valid()). */
typedef struct ntm_sys_sem *sys_sem_t;
typedef struct ntm_sys_mutex *sys_mutex_t;
typedef struct ntm_sys_mbox *sys_mbox_t;
typedef unsigned long sys_thread_t;
typedef int sys_prot_t;

#define SYS_MBOX_NULL NULL
#define SYS_SEM_NULL NULL

/* Application threads are not lwIP threads: every thread gets its own netconn semaphore,
 * created on first use and freed when the thread ends. */
sys_sem_t *ntm_sys_thread_sem(void);
#define LWIP_NETCONN_THREAD_SEM_GET() ntm_sys_thread_sem()
#define LWIP_NETCONN_THREAD_SEM_ALLOC() ((void)ntm_sys_thread_sem())
#define LWIP_NETCONN_THREAD_SEM_FREE()

#ifdef __cplusplus
}
#endif

#endif
