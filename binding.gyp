{
  "variables": {
    # CPU the kernel is compiled for. The addon is built on the machine that runs it (npm install), so
    # "native" is the default; BOPT_NATIVE_MARCH=x86-64-v2 (for example) builds a portable one.
    "bopt_march%": "native"
  },
  "targets": [
    {
      "target_name": "bopt_native",
      "sources": ["native/addon.cc", "native/kernel.cc", "native/peak.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-std=gnu++17"],
      # No -ffast-math: a diverging run must still produce NaN/inf losses. -fno-math-errno only lets
      # the compiler inline sqrt/exp-style calls; FMA contraction is deterministic on one machine.
      "cflags_cc": ["-O3", "-std=gnu++17", "-fexceptions", "-fno-math-errno", "-march=<(bopt_march)"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno"]
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
    }
  ]
}
