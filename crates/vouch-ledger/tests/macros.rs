/// Generate `#[test] fn sqlite()` and `#[test] fn postgres()` running the same body
/// with a fresh [`crate::util::Fx`] on each database.
#[macro_export]
macro_rules! on_both {
    ($name:ident, |$fx:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($fx: $crate::util::Fx) $body
            #[test]
            fn sqlite() {
                body($crate::util::Fx::new($crate::util::Kind::Sqlite).unwrap())
            }
            #[test]
            fn postgres() {
                if let Some(fx) = $crate::util::Fx::new($crate::util::Kind::Postgres) {
                    body(fx)
                }
            }
        }
    };
}
