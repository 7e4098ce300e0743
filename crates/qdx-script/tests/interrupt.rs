//! The process-wide interrupt (what Ctrl-C sets) stops every script. Alone in its test binary:
//! setting it would stop scripts that other tests run at the same time.
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use qdx_script::{Inputs, Interrupt, Script, ScriptErrorKind, ScriptOrigin};

#[test]
fn the_process_interrupt_stops_every_script_until_cleared() {
    let script = Script::compile(
        "let n = 0;\nwhile true { n += 1; }\nn",
        ScriptOrigin::File("spin.rhai".into()),
    )
    .unwrap();
    let quick = Script::compile("x * 2", ScriptOrigin::File("quick.rhai".into())).unwrap();
    let inputs = Inputs::new().number("x", 2.0);
    assert_eq!(quick.eval_proxy(&inputs).unwrap(), 4.0);

    let flag = Interrupt::process().flag();
    let e = std::thread::scope(|scope| {
        let runner = scope.spawn(|| script.eval_proxy(&inputs));
        // What a signal handler does: set the shared flag.
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        runner.join().unwrap()
    })
    .unwrap_err();
    assert_eq!(e.kind, ScriptErrorKind::Interrupted, "{e:?}");
    // Stopped wherever it was when the flag was set: in the loop, or before it.
    assert!(
        e.located()
            .starts_with("the script was interrupted (Ctrl-C) (spin.rhai:"),
        "{}",
        e.located()
    );
    assert_eq!(
        quick.eval_proxy(&inputs).unwrap_err().kind,
        ScriptErrorKind::Interrupted
    );
    Interrupt::process().clear();
    assert_eq!(quick.eval_proxy(&inputs).unwrap(), 4.0);
}
