use arbor_engine::Cpu;
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;
fn main() {
    let device = Default::default();
    for (m, k, n) in [(197, 768, 2304), (197, 768, 768), (197, 768, 3072), (197, 3072, 768), (1576, 768, 3072)] {
        let a = Tensor::<Cpu, 2>::random([m, k], Distribution::Normal(0.0, 1.0), &device);
        // weights stored [out,in] and used transposed, like the model
        let b = Tensor::<Cpu, 2>::random([n, k], Distribution::Normal(0.0, 1.0), &device).transpose();
        let bc = Tensor::<Cpu, 2>::random([k, n], Distribution::Normal(0.0, 1.0), &device);
        for (name, b) in [("T", b), ("C", bc)] {
            a.clone().matmul(b.clone()).into_data();
            let it = 20;
            let s = Instant::now();
            for _ in 0..it {
                a.clone().matmul(b.clone()).into_data();
            }
            let g = it as f64 * 2.0 * (m * k * n) as f64 / s.elapsed().as_secs_f64() / 1e9;
            println!("{m}x{k}x{n} {name}: {g:.0} GFLOP/s");
        }
    }
}
