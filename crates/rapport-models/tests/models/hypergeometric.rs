use rapport_models::special::hyp2f1;

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
