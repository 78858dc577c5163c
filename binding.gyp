{
  "targets": [
    {
      "target_name": "metalgrad",
      "sources": [
        "native/addon.cc",
        "native/host_buffers.cc",
        "<!@(node -p \"require('./native/sources.json').join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/cpu"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-fno-strict-aliasing", "-Wall", "-Wextra", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "CLANG_CXX_LIBRARY": "libc++",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CPLUSPLUSFLAGS": ["-fno-strict-aliasing", "-Wall", "-Wextra"]
      },
      "conditions": [
        ["OS=='mac'", {
          "sources": ["native/metal/host.mm", "native/metal/pipelines.mm"],
          "defines": ["METALGRAD_METAL"],
          "xcode_settings": {"CLANG_ENABLE_OBJC_ARC": "YES"},
          "link_settings": {"libraries": ["-framework Metal", "-framework Foundation", "-framework CoreGraphics"]}
        }]
      ]
    }
  ]
}
