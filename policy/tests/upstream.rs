//! The upstream components the tests build or read (tools/upstream) are the versions the platform
//! runs: a bump on either side without the other fails here.

use policy::upstream::{mismatches, pins, Pin};

#[test]
fn upstream_components_are_the_versions_the_platform_runs() {
    let pins = pins();
    let wrong = mismatches(&pins);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Each pin was derived from something real, never an empty or placeholder version.
    for pin in &pins {
        assert!(
            pin.expected.len() > 2 && pin.expected != "v(none)",
            "{}: could not derive the platform's version ({})",
            pin.component,
            pin.because
        );
    }
}

#[test]
fn a_pin_that_differs_from_the_platform_is_reported() {
    let pin = Pin {
        component: "argo-rollouts",
        pinned: "v1.9.0".into(),
        expected: "v1.9.1".into(),
        because: "the appVersion of the argo-rollouts chart".into(),
    };
    let wrong = mismatches(&[pin]);
    assert_eq!(wrong.len(), 1);
    assert!(
        wrong[0].contains("tools/upstream/argo-rollouts pins v1.9.0 but the platform runs v1.9.1")
    );
}
