// Node-API binding of the bopt native kernel (node-addon-api, C++ exceptions mapped to JS errors).
// Context-aware: no global mutable state, so every worker thread can load it.
#include <napi.h>

#include <memory>

#include "kernel.hpp"
#include "peak.hpp"

namespace {

double numberField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option ") + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Int32Array int32Arg(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
  return v.As<Napi::Int32Array>();
}

Napi::Float32Array float32Arg(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  return v.As<Napi::Float32Array>();
}

// fmaPeak(seconds) -> { gflops, isa, gatherGflops }: this core's measured single-precision FMA ceiling, and that
// of the sparse kernels' loop shape (bench only).
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "fmaPeak(seconds)");
  double seconds = info[0].As<Napi::Number>().DoubleValue();
  if (!(seconds > 0 && seconds <= 60)) throw Napi::RangeError::New(env, "fmaPeak: seconds must be in (0, 60]");
  bopt::FmaPeak p = bopt::measureFmaPeak(seconds);
  Napi::Object out = Napi::Object::New(env);
  out.Set("gflops", Napi::Number::New(env, p.gflops));
  out.Set("isa", Napi::String::New(env, p.isa));
  out.Set("gatherGflops", Napi::Number::New(env, p.gatherGflops));
  return out;
}

class NativeKernel : public Napi::ObjectWrap<NativeKernel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeKernel",
                       {InstanceMethod("setParameters", &NativeKernel::SetParameters),
                        InstanceMethod("getParameters", &NativeKernel::GetParameters),
                        InstanceMethod("step", &NativeKernel::Step),
                        InstanceMethod("evaluate", &NativeKernel::Evaluate),
                        InstanceMethod("gradient", &NativeKernel::Gradient),
                        InstanceMethod("loss", &NativeKernel::Loss),
                        InstanceMethod("parameterCount", &NativeKernel::ParameterCount),
                        InstanceMethod("setThreads", &NativeKernel::SetThreads),
                        InstanceMethod("threads", &NativeKernel::Threads),
                        InstanceMethod("setVectorWidth", &NativeKernel::SetVectorWidth),
                        InstanceMethod("vectorWidth", &NativeKernel::VectorWidth),
                        InstanceMethod("dispose", &NativeKernel::Dispose)});
  }

  // new NativeKernel({ model, inputs, hidden, classes, x, y, n, d, lr, momentum, l2, l2OnBias })
  explicit NativeKernel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeKernel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "NativeKernel(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    std::string model = o.Get("model").ToString().Utf8Value();
    bopt::Model m;
    if (model == "logreg")
      m = bopt::LOGREG;
    else if (model == "softmax")
      m = bopt::SOFTMAX;
    else if (model == "mlp")
      m = bopt::MLP;
    else
      throw Napi::TypeError::New(env, "unknown model " + model);
    auto x = float32Arg(o.Get("x"), "x");
    auto y = int32Arg(o.Get("y"), "y");
    const double n = numberField(o, "n"), d = numberField(o, "d");
    if (n < 1 || d < 1 || static_cast<double>(x.ElementLength()) < n * d || static_cast<double>(y.ElementLength()) < n)
      throw Napi::RangeError::New(env, "train data is shorter than n x d");
    bopt::Options opt;
    opt.lr = numberField(o, "lr");
    opt.momentum = numberField(o, "momentum");
    opt.l2 = numberField(o, "l2");
    Napi::Value lb = o.Get("l2OnBias");
    opt.l2OnBias = lb.IsBoolean() ? lb.As<Napi::Boolean>().Value() : true;
    try {
      k_ = std::make_unique<bopt::Kernel>(m, static_cast<int>(numberField(o, "inputs")),
                                          static_cast<int>(numberField(o, "hidden")),
                                          static_cast<int>(numberField(o, "classes")), x.Data(), y.Data(),
                                          static_cast<int64_t>(n), static_cast<int>(d), opt);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("native kernel: ") + e.what());
    }
  }

 private:
  std::unique_ptr<bopt::Kernel> k_;

  bopt::Kernel& kernel(Napi::Env env) {
    if (!k_) throw Napi::Error::New(env, "native kernel: used after dispose()");
    return *k_;
  }

  template <typename F>
  auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::out_of_range& e) {
      throw Napi::RangeError::New(env, std::string("native kernel: ") + e.what());
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("native kernel: ") + e.what());
    }
  }

  Napi::Value SetParameters(const Napi::CallbackInfo& info) {
    auto p = float32Arg(info[0], "parameters");
    guarded(info.Env(), [&] {
      kernel(info.Env()).setParameters(p.Data(), p.ElementLength());
      return 0;
    });
    return info.Env().Undefined();
  }

  Napi::Value GetParameters(const Napi::CallbackInfo& info) {
    auto& k = kernel(info.Env());
    auto out = Napi::Float32Array::New(info.Env(), k.parameterCount());
    guarded(info.Env(), [&] {
      k.getParameters(out.Data());
      return 0;
    });
    return out;
  }

  Napi::Value Step(const Napi::CallbackInfo& info) {
    auto b = int32Arg(info[0], "batch");
    auto& k = kernel(info.Env());
    const double loss = guarded(info.Env(), [&] { return k.step(b.Data(), static_cast<int>(b.ElementLength())); });
    return Napi::Number::New(info.Env(), loss);
  }

  Napi::Value Loss(const Napi::CallbackInfo& info) {
    auto b = int32Arg(info[0], "batch");
    auto& k = kernel(info.Env());
    const double loss = guarded(info.Env(), [&] { return k.loss(b.Data(), static_cast<int>(b.ElementLength())); });
    return Napi::Number::New(info.Env(), loss);
  }

  Napi::Value Gradient(const Napi::CallbackInfo& info) {
    auto b = int32Arg(info[0], "batch");
    auto& k = kernel(info.Env());
    auto out = Napi::Float32Array::New(info.Env(), k.parameterCount());
    const double loss =
        guarded(info.Env(), [&] { return k.gradient(b.Data(), static_cast<int>(b.ElementLength()), out.Data()); });
    Napi::Object r = Napi::Object::New(info.Env());
    r.Set("loss", loss);
    r.Set("gradient", out);
    return r;
  }

  // evaluate(x: Float32Array, y: Int32Array, n, d) -> [loss, accuracy]
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto x = float32Arg(info[0], "x");
    auto y = int32Arg(info[1], "y");
    if (!info[2].IsNumber() || !info[3].IsNumber()) throw Napi::TypeError::New(env, "evaluate(x, y, n, d)");
    const double n = info[2].As<Napi::Number>().DoubleValue(), d = info[3].As<Napi::Number>().DoubleValue();
    if (n < 1 || d < 1 || static_cast<double>(x.ElementLength()) < n * d || static_cast<double>(y.ElementLength()) < n)
      throw Napi::RangeError::New(env, "evaluate: data is shorter than n x d");
    auto& k = kernel(env);
    double loss = 0, acc = 0;
    guarded(env, [&] {
      k.evaluate(x.Data(), y.Data(), static_cast<int64_t>(n), static_cast<int>(d), &loss, &acc);
      return 0;
    });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, loss);
    r.Set(1u, acc);
    return r;
  }

  // setThreads(n): threads a batch of at least threadMinBatch examples (and the evaluation) may use, this
  // one included. The numbers do not depend on it.
  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setThreads(n)");
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 1 && n <= bopt::Kernel::MAX_THREADS) || n != static_cast<double>(static_cast<int>(n)))
      throw Napi::RangeError::New(env, "native kernel: threads must be an integer in [1, " +
                                           std::to_string(bopt::Kernel::MAX_THREADS) + "]");
    auto& k = kernel(env);
    guarded(env, [&] {
      k.setThreads(static_cast<int>(n));
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), kernel(info.Env()).threads());
  }

  // setVectorWidth(w): the vectors of the hot loops, 16 (AVX-512), 8 (AVX2) or 0 (portable loops), one of
  // the addon's vectorWidths. Every width gives the same numbers; for tests and benches.
  Napi::Value SetVectorWidth(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setVectorWidth(width)");
    const double w = info[0].As<Napi::Number>().DoubleValue();
    if (w != 0 && w != 8 && w != 16) throw Napi::RangeError::New(env, "native kernel: vector width must be 0, 8 or 16");
    auto& k = kernel(env);
    guarded(env, [&] {
      k.setVectorWidth(static_cast<int>(w));
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value VectorWidth(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), kernel(info.Env()).vectorWidth());
  }

  Napi::Value ParameterCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(kernel(info.Env()).parameterCount()));
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    k_.reset();
    return info.Env().Undefined();
  }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if defined(__x86_64__) && (defined(__AVX2__) || defined(__FMA__))
  // Built with -march=native: refuse to load on a CPU without the instructions it was compiled for (a
  // binary copied to another machine), so that bopt falls back to another engine instead of crashing.
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    throw Napi::Error::New(env, "bopt_native was compiled for AVX2/FMA, which this CPU lacks: rebuild it here");
#endif
  exports.Set("NativeKernel", NativeKernel::Define(env));
  // Bumped whenever the interface below changes (2: setVectorWidth, vectorWidth, vectorWidths; 3: fmaPeak's
  // gatherGflops, bwdTileBytes), so that a stale build is refused with "rebuild it" instead of failing on a
  // missing method mid-run.
  exports.Set("abiVersion", Napi::Number::New(env, 3));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
  // Smallest batch that setThreads(n > 1) splits over threads (the coordinator gives threads only there).
  exports.Set("threadMinBatch", Napi::Number::New(env, bopt::Kernel::THREAD_MIN_B));
  // Bytes of the back-propagated error per weight-gradient tile of examples on this CPU (from its L1 size).
  exports.Set("bwdTileBytes", Napi::Number::New(env, bopt::Kernel::bwdTileBytes()));
  // Vector widths this CPU can run (the widest is the default): 16, 8, 0 (the portable loops).
  Napi::Array widths = Napi::Array::New(env);
  for (int w : {16, 8, 0})
    if (bopt::Kernel::supportsVectorWidth(w)) widths.Set(widths.Length(), Napi::Number::New(env, w));
  exports.Set("vectorWidths", widths);
#if defined(__AVX2__)
  exports.Set("isa", Napi::String::New(env, "avx2"));
#elif defined(__AVX__)
  exports.Set("isa", Napi::String::New(env, "avx"));
#else
  exports.Set("isa", Napi::String::New(env, "generic"));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(bopt_native, Init)
