/* fuzz_hdf5_data: an HDF5 split (data.format = hdf5, the default
 * data.images_key /images and data.labels_key /labels), opened with
 * dataset_open as the trainer opens data.train, then a sample and a batch
 * gathered from it and an index out of range refused (fuzz_dataset, in
 * fuzz_common.h), and every HDF5 identifier the reader opened checked
 * closed (fuzz_h5_check).
 *
 * The input is the file. data.layout (auto, nchw, nhwc) is taken from the
 * input's length modulo 3, so each layout is reached without a byte of the
 * file being spent on it. Unlike a checkpoint, a data file has no CRC in
 * front: what stands between a damaged file and libhdf5 in the reader is
 * the walk in a child process (util/h5probe.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "trainer/config.h"

static config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    config_defaults(&cfg);
    cfg.data_format = DATA_HDF5;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("data.h5", data, size);
    static const int layouts[3] = {LAYOUT_AUTO, LAYOUT_NCHW, LAYOUT_NHWC};
    cfg.data_layout = layouts[size % 3];
    fuzz_h5_begin();
    fuzz_dataset(&cfg, path, "fuzz_hdf5_data");
    fuzz_h5_check("fuzz_hdf5_data");
    return 0;
}
