/// `on_both!(name, |fx| { ... })`: a module `name` whose `sqlite` and `ext_postgres`
/// tests run the body with a fresh [`crate::util::Fx`] on each database (the shared
/// macro of `vouch-test-support`, with this crate's fixture).
macro_rules! on_both {
    ($name:ident, |$fx:ident| $body:block) => {
        vouch_test_support::on_both!($name, |$fx: $crate::util::Fx = $crate::util::Fx::new| $body);
    };
}
