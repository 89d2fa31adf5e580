use rapport_models::special::{digamma, hyp2f1, trigamma};

const SCIPY: &str = include_str!("../fixtures/hyp2f1_scipy.csv");

#[test]
fn hyp2f1_matches_scipy_on_a_grid_including_near_one_and_integer_cases() {
    let mut worst = (0.0, String::new());
    for line in SCIPY.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        let got = hyp2f1(v[0], v[1], v[2], v[3]);
        let err = ((got - v[4]) / v[4]).abs();
        if err.is_nan() || err > worst.0 {
            worst = (
                err,
                format!("2F1({}, {}; {}; {}) = {got}, scipy {}", v[0], v[1], v[2], v[3], v[4]),
            );
        }
    }
    assert!(worst.0 < 1e-8, "worst relative error {:.2e}: {}", worst.0, worst.1);
}

#[test]
fn hyp2f1_has_known_closed_forms() {
    // 2F1(1, 1; 2; z) = -ln(1 - z) / z.
    for z in [-5.0, -0.5, 0.3, 0.75, 0.999] {
        let exact = -(1.0f64 - z).ln() / z;
        assert!(
            (hyp2f1(1.0, 1.0, 2.0, z) / exact - 1.0).abs() < 1e-10,
            "z = {z}: {}",
            hyp2f1(1.0, 1.0, 2.0, z)
        );
    }
    assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
}

#[test]
fn trigamma_has_known_values_and_is_the_slope_of_digamma() {
    let pi2 = std::f64::consts::PI.powi(2);
    assert!((trigamma(1.0) / (pi2 / 6.0) - 1.0).abs() < 1e-14);
    assert!((trigamma(0.5) / (pi2 / 2.0) - 1.0).abs() < 1e-14);
    for x in [0.01, 0.3, 2.5, 19.5, 40.0, 1e4] {
        let h = 1e-5 * x;
        let slope = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
        assert!((trigamma(x) / slope - 1.0).abs() < 1e-6, "x = {x}");
    }
    assert!(trigamma(0.0).is_nan());
}
