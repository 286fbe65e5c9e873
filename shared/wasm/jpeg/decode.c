/*
 * JPEG decoder entry point for resnet-edge: libjpeg-turbo 2.1.5 (8-bit, Huffman, no SIMD) compiled to a
 * standalone wasm module with no runtime. The JS side (shared/src/codecs/libjpeg-turbo.ts) supplies four
 * imports and calls jd_decode once per instance:
 *   env.jd_read(dst, max) -> bytes copied   the input is streamed from JS in 64 KiB chunks, so the wasm heap
 *   env.jd_skip(n)                          never holds the compressed file
 *   env.jd_fail()                           throws: libjpeg's fatal errors end the call (no setjmp, which
 *                                           needs emscripten's JS glue); the instance is then discarded
 * Output: RGB or RGBA (alpha 255) rows at 1/scale_denom of the full size (libjpeg's DCT-domain scaling),
 * decoded scanline by scanline straight into the output buffer, so a sequential JPEG never has a
 * full-resolution pixel buffer. ISLOW IDCT + fancy upsampling: the same pixels as Pillow at full scale.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jpeglib.h"
#include "jerror.h"

#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))

IMPORT(jd_read) uint32_t jd_read(uint8_t *dst, uint32_t max);
IMPORT(jd_skip) void jd_skip(uint32_t n);
IMPORT(jd_fail) void jd_fail(void);

#define MAX_MESSAGES 8
#define KIND_ERROR 1
#define KIND_SCAN_LIMIT 2
#define KIND_MEMORY 3

/* Read by JS through a DataView at jd_result(); every field is a uint32. */
static struct {
  uint32_t width, height, channels, data;      /* output image; data is a heap pointer */
  uint32_t image_width, image_height;          /* the frame's full size */
  uint32_t warnings;                           /* libjpeg's num_warnings */
  uint32_t scans;                              /* scans read */
  uint32_t error_kind;                         /* set before jd_fail: KIND_* */
  uint32_t message_count;                      /* warnings kept in messages[] */
  int32_t codes[MAX_MESSAGES];                 /* their libjpeg message codes (JWRN_*) */
} result;

static char messages[MAX_MESSAGES][JMSG_LENGTH_MAX];
static char error_message[JMSG_LENGTH_MAX];
static JOCTET input[65536];
static uint32_t max_scans;

EXPORT(jd_result) void *jd_result_ptr(void) { return &result; }
EXPORT(jd_messages) void *jd_messages_ptr(void) { return messages; }
EXPORT(jd_error) char *jd_error_ptr(void) { return error_message; }
EXPORT(jd_message_size) uint32_t jd_message_size(void) { return JMSG_LENGTH_MAX; }

static void fail(j_common_ptr cinfo, uint32_t kind) {
  if (kind != KIND_SCAN_LIMIT) (*cinfo->err->format_message)(cinfo, error_message);
  result.error_kind = kind;
  jd_fail();
  abort(); /* not reached: jd_fail throws */
}

static void error_exit(j_common_ptr cinfo) {
  fail(cinfo, cinfo->err->msg_code == JERR_NO_BACKING_STORE || cinfo->err->msg_code == JERR_OUT_OF_MEMORY ? KIND_MEMORY : KIND_ERROR);
}

/* Keep warnings (level -1) instead of printing them; trace messages (level >= 0) are dropped. */
static void emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  if (result.message_count < MAX_MESSAGES) {
    result.codes[result.message_count] = cinfo->err->msg_code;
    (*cinfo->err->format_message)(cinfo, messages[result.message_count]);
    result.message_count++;
  }
  cinfo->err->num_warnings++;
}

static void output_message(j_common_ptr cinfo) { (void)cinfo; }

/* TurboJPEG's TJFLAG_LIMITSCANS, with the limit passed in: stop a file that repeats scans. */
static void progress_monitor(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  uint32_t scan = (uint32_t)((j_decompress_ptr)cinfo)->input_scan_number;
  if (scan > max_scans) {
    snprintf(error_message, sizeof error_message, "the JPEG has more than %u scans", max_scans);
    fail(cinfo, KIND_SCAN_LIMIT);
  }
}

static void init_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* As jdatasrc.c's memory source: at the end of the data, warn and insert a fake EOI marker. */
static boolean fill_input_buffer(j_decompress_ptr cinfo) {
  uint32_t n = jd_read(input, sizeof input);
  if (n == 0) {
    WARNMS(cinfo, JWRN_JPEG_EOF);
    input[0] = (JOCTET)0xFF;
    input[1] = (JOCTET)JPEG_EOI;
    n = 2;
  }
  cinfo->src->next_input_byte = input;
  cinfo->src->bytes_in_buffer = n;
  return TRUE;
}

static void skip_input_data(j_decompress_ptr cinfo, long count) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (count <= 0) return;
  if ((size_t)count <= src->bytes_in_buffer) {
    src->next_input_byte += count;
    src->bytes_in_buffer -= (size_t)count;
    return;
  }
  jd_skip((uint32_t)(count - (long)src->bytes_in_buffer));
  src->bytes_in_buffer = 0;
}

static void term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/*
 * Decode the streamed JPEG at 1/scale_denom (1, 2, 4 or 8) into `channels` (3 RGB, 4 RGBA) per pixel.
 * scans_limit caps input_scan_number; memory_limit caps what libjpeg's memory manager may allocate
 * (coefficient buffer, row buffers; not the output image). Returns a pointer to the result struct.
 */
EXPORT(jd_decode) void *jd_decode(uint32_t scale_denom, uint32_t channels, uint32_t scans_limit, uint32_t memory_limit) {
  static struct jpeg_decompress_struct cinfo;
  static struct jpeg_error_mgr jerr;
  static struct jpeg_progress_mgr progress;
  static struct jpeg_source_mgr src;
  memset(&result, 0, sizeof result);
  max_scans = scans_limit;

  cinfo.err = jpeg_std_error(&jerr);
  jerr.error_exit = error_exit;
  jerr.emit_message = emit_message;
  jerr.output_message = output_message;
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = memory_limit;
  progress.progress_monitor = progress_monitor;
  cinfo.progress = &progress;
  src.init_source = init_source;
  src.fill_input_buffer = fill_input_buffer;
  src.skip_input_data = skip_input_data;
  src.resync_to_restart = jpeg_resync_to_restart;
  src.term_source = term_source;
  src.bytes_in_buffer = 0;
  src.next_input_byte = NULL;
  cinfo.src = &src;

  jpeg_read_header(&cinfo, TRUE);
  result.image_width = cinfo.image_width;
  result.image_height = cinfo.image_height;
  if (cinfo.num_components == 4) {
    snprintf(error_message, sizeof error_message, "4-component JPEG given to the RGB decoder");
    result.error_kind = KIND_ERROR;
    jd_fail();
  }
  cinfo.scale_num = 1;
  cinfo.scale_denom = scale_denom;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  cinfo.out_color_space = channels == 4 ? JCS_EXT_RGBA : JCS_RGB;
  jpeg_start_decompress(&cinfo);

  size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
  uint8_t *out = malloc(stride * cinfo.output_height);
  if (!out) {
    snprintf(error_message, sizeof error_message, "no memory for the %ux%u output", cinfo.output_width, cinfo.output_height);
    result.error_kind = KIND_MEMORY;
    jd_fail();
  }
  JSAMPROW rows[16];
  while (cinfo.output_scanline < cinfo.output_height) {
    int n = cinfo.rec_outbuf_height < 16 ? cinfo.rec_outbuf_height : 16;
    for (int i = 0; i < n; i++) rows[i] = out + (size_t)(cinfo.output_scanline + i < cinfo.output_height ? cinfo.output_scanline + i : cinfo.output_height - 1) * stride;
    jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
  }
  result.scans = (uint32_t)cinfo.input_scan_number;
  jpeg_finish_decompress(&cinfo);
  if ((uint32_t)cinfo.input_scan_number > result.scans) result.scans = (uint32_t)cinfo.input_scan_number;
  result.width = cinfo.output_width;
  result.height = cinfo.output_height;
  result.channels = (uint32_t)cinfo.output_components;
  result.data = (uint32_t)(uintptr_t)out;
  result.warnings = (uint32_t)jerr.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return &result;
}
