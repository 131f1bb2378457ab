/*
 * The small part of the CUDA driver API that ctensor uses, declared by the
 * project itself so that no CUDA header or library is needed to build.
 *
 * Types follow the driver's ABI on 64-bit Linux: CUdevice is an int,
 * CUdeviceptr a 64-bit unsigned integer, handles are pointers to opaque
 * structs. Numeric values of enums are the driver's own (cuda.h) and must
 * never change. Entry points are reached only through the function-pointer
 * table ct_cuda_driver, filled by the loader (loader.c) from libcuda.so.1.
 *
 * ABI versions: the table's members carry the plain names, but the loader
 * binds the 64-bit "_v2" exports where the driver has several versions of a
 * symbol (cuMemAlloc -> cuMemAlloc_v2, ...), either through cuGetProcAddress
 * (which picks the version for CT_CUDA_API_VERSION) or by dlsym of the _v2
 * name. The signatures below are those of the versions bound.
 */
#ifndef CT_CUDA_API_H
#define CT_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

/* The CUDA API version whose symbol ABIs the table below describes
 * (1000 * major + 10 * minor). Passed to cuGetProcAddress. */
#define CT_CUDA_API_VERSION 12000
/* Oldest driver ctensor accepts (CUDA 11.0, as reported by cuDriverGetVersion). */
#define CT_CUDA_MIN_DRIVER_VERSION 11000

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef uint64_t cuuint64_t;

typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUevent_st *CUevent;

typedef struct CUuuid_st {
  char bytes[16];
} CUuuid;

/* CUresult values ctensor names or tests for. */
enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_DEINITIALIZED = 4,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_INSUFFICIENT_DRIVER = 35,
  CUDA_ERROR_DEVICE_UNAVAILABLE = 46,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_ECC_UNCORRECTABLE = 214,
  CUDA_ERROR_CONTEXT_ALREADY_IN_USE = 216,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
  CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  CUDA_ERROR_LAUNCH_TIMEOUT = 702,
  CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
  CUDA_ERROR_ASSERT = 710,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_NOT_PERMITTED = 800,
  CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_SYSTEM_NOT_READY = 802,
  CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803,
  CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804,
  CUDA_ERROR_UNKNOWN = 999
};

/* CUdevice_attribute values used by discovery and the kernels. */
typedef enum CUdevice_attribute {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
  CU_DEVICE_ATTRIBUTE_COMPUTE_MODE = 20, /* CU_COMPUTEMODE_*: 0 default, 2 prohibited, 3 exclusive process */
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
  CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID = 34,
  CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID = 50,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
} CUdevice_attribute;

/* Stream creation flags. */
enum { CU_STREAM_DEFAULT = 0, CU_STREAM_NON_BLOCKING = 1 };

/* cuGetProcAddress flags and its "symbol status" out-parameter. */
enum { CU_GET_PROC_ADDRESS_DEFAULT = 0, CU_GET_PROC_ADDRESS_LEGACY_STREAM = 1 };
typedef enum CUdriverProcAddressQueryResult {
  CU_GET_PROC_ADDRESS_SUCCESS = 0,
  CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1,
  CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2
} CUdriverProcAddressQueryResult;

/* Function types, one per entry point (signatures of the bound ABI). */
typedef CUresult (*ct_pfn_cuInit)(unsigned int flags);
typedef CUresult (*ct_pfn_cuDriverGetVersion)(int *version);
typedef CUresult (*ct_pfn_cuGetErrorName)(CUresult error, const char **str);
typedef CUresult (*ct_pfn_cuGetErrorString)(CUresult error, const char **str);
/* CUDA >= 12.0 ("cuGetProcAddress_v2"); the 11.3 form lacks the last argument. */
typedef CUresult (*ct_pfn_cuGetProcAddress)(const char *symbol, void **pfn, int cuda_version,
                                            cuuint64_t flags, CUdriverProcAddressQueryResult *status);
typedef CUresult (*ct_pfn_cuGetProcAddress_v1)(const char *symbol, void **pfn, int cuda_version,
                                               cuuint64_t flags);

typedef CUresult (*ct_pfn_cuDeviceGetCount)(int *count);
typedef CUresult (*ct_pfn_cuDeviceGet)(CUdevice *device, int ordinal);
typedef CUresult (*ct_pfn_cuDeviceGetName)(char *name, int len, CUdevice dev);
typedef CUresult (*ct_pfn_cuDeviceGetUuid)(CUuuid *uuid, CUdevice dev);
typedef CUresult (*ct_pfn_cuDeviceGetAttribute)(int *value, CUdevice_attribute attrib, CUdevice dev);
typedef CUresult (*ct_pfn_cuDeviceTotalMem)(size_t *bytes, CUdevice dev);               /* _v2 */
typedef CUresult (*ct_pfn_cuDeviceGetPCIBusId)(char *bus_id, int len, CUdevice dev);

typedef CUresult (*ct_pfn_cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
typedef CUresult (*ct_pfn_cuDevicePrimaryCtxRelease)(CUdevice dev);                     /* _v2 */
typedef CUresult (*ct_pfn_cuCtxSetCurrent)(CUcontext ctx);
typedef CUresult (*ct_pfn_cuCtxGetCurrent)(CUcontext *ctx);
typedef CUresult (*ct_pfn_cuCtxSynchronize)(void);

typedef CUresult (*ct_pfn_cuMemAlloc)(CUdeviceptr *dptr, size_t bytes);                 /* _v2 */
typedef CUresult (*ct_pfn_cuMemFree)(CUdeviceptr dptr);                                 /* _v2 */
typedef CUresult (*ct_pfn_cuMemGetInfo)(size_t *free_bytes, size_t *total_bytes);       /* _v2 */
typedef CUresult (*ct_pfn_cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes,
                                             CUstream stream);                          /* _v2 */
typedef CUresult (*ct_pfn_cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes,
                                             CUstream stream);                          /* _v2 */
typedef CUresult (*ct_pfn_cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                                             CUstream stream);                          /* _v2 */
typedef CUresult (*ct_pfn_cuMemcpyPeerAsync)(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src,
                                             CUcontext src_ctx, size_t bytes, CUstream stream);
typedef CUresult (*ct_pfn_cuMemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t n,
                                           CUstream stream);
typedef CUresult (*ct_pfn_cuMemsetD32Async)(CUdeviceptr dst, unsigned int value, size_t n,
                                            CUstream stream);

typedef CUresult (*ct_pfn_cuStreamCreate)(CUstream *stream, unsigned int flags);
typedef CUresult (*ct_pfn_cuStreamSynchronize)(CUstream stream);
typedef CUresult (*ct_pfn_cuStreamQuery)(CUstream stream);
typedef CUresult (*ct_pfn_cuStreamDestroy)(CUstream stream);                            /* _v2 */

typedef CUresult (*ct_pfn_cuModuleLoadData)(CUmodule *module, const void *image);
typedef CUresult (*ct_pfn_cuModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name);
typedef CUresult (*ct_pfn_cuModuleUnload)(CUmodule module);
typedef CUresult (*ct_pfn_cuLaunchKernel)(CUfunction f, unsigned int grid_x, unsigned int grid_y,
                                          unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                                          unsigned int block_z, unsigned int shared_bytes, CUstream stream,
                                          void **params, void **extra);

/*
 * The driver table. Every member is non-NULL once the loader reports the
 * driver loaded, except those marked optional (NULL when the driver lacks
 * them; callers check).
 */
typedef struct ct_cuda_driver {
  ct_pfn_cuInit cuInit;
  ct_pfn_cuDriverGetVersion cuDriverGetVersion;
  ct_pfn_cuGetErrorName cuGetErrorName;
  ct_pfn_cuGetErrorString cuGetErrorString;
  ct_pfn_cuGetProcAddress cuGetProcAddress;       /* optional (CUDA >= 12.0 form) */
  ct_pfn_cuGetProcAddress_v1 cuGetProcAddress_v1; /* optional (CUDA 11.3 form) */

  ct_pfn_cuDeviceGetCount cuDeviceGetCount;
  ct_pfn_cuDeviceGet cuDeviceGet;
  ct_pfn_cuDeviceGetName cuDeviceGetName;
  ct_pfn_cuDeviceGetUuid cuDeviceGetUuid;
  ct_pfn_cuDeviceGetAttribute cuDeviceGetAttribute;
  ct_pfn_cuDeviceTotalMem cuDeviceTotalMem;
  ct_pfn_cuDeviceGetPCIBusId cuDeviceGetPCIBusId; /* optional: built from attributes if absent */

  ct_pfn_cuDevicePrimaryCtxRetain cuDevicePrimaryCtxRetain;
  ct_pfn_cuDevicePrimaryCtxRelease cuDevicePrimaryCtxRelease;
  ct_pfn_cuCtxSetCurrent cuCtxSetCurrent;
  ct_pfn_cuCtxGetCurrent cuCtxGetCurrent;
  ct_pfn_cuCtxSynchronize cuCtxSynchronize;

  ct_pfn_cuMemAlloc cuMemAlloc;
  ct_pfn_cuMemFree cuMemFree;
  ct_pfn_cuMemGetInfo cuMemGetInfo;
  ct_pfn_cuMemcpyHtoDAsync cuMemcpyHtoDAsync;
  ct_pfn_cuMemcpyDtoHAsync cuMemcpyDtoHAsync;
  ct_pfn_cuMemcpyDtoDAsync cuMemcpyDtoDAsync;
  ct_pfn_cuMemcpyPeerAsync cuMemcpyPeerAsync;     /* optional */
  ct_pfn_cuMemsetD8Async cuMemsetD8Async;
  ct_pfn_cuMemsetD32Async cuMemsetD32Async;

  ct_pfn_cuStreamCreate cuStreamCreate;
  ct_pfn_cuStreamSynchronize cuStreamSynchronize;
  ct_pfn_cuStreamQuery cuStreamQuery;
  ct_pfn_cuStreamDestroy cuStreamDestroy;

  ct_pfn_cuModuleLoadData cuModuleLoadData;
  ct_pfn_cuModuleGetFunction cuModuleGetFunction;
  ct_pfn_cuModuleUnload cuModuleUnload;
  ct_pfn_cuLaunchKernel cuLaunchKernel;
} ct_cuda_driver;

#endif /* CT_CUDA_API_H */
