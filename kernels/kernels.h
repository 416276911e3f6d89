/* Compute backends behind one small interface. kernels/cpu (oneDNN plus a
 * plain-C reference the tests trust) is always built; kernels/cuda is built
 * when CUDA and cuDNN are found and used only when a device is present. */
#ifndef SSCOR_KERNELS_H
#define SSCOR_KERNELS_H

/* Worker threads for CPU kernels; 0 means one per online core. */
void sscor_kernels_set_threads(int n);
int sscor_kernels_threads(void);

#endif
