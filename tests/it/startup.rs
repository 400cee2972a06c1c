//! Start-up: every setting that can fail is checked before any task starts, so a bad key or
//! mail setting stops the service at `build` instead of after probes have begun.

use crate::helpers::config_from;

const ONE_MODEL: &str = r#"
[[providers]]
id = "sim"
name = "Sim"
kind = "simulated"
schedule = "* * * * * *"
models = [ { id = "m", name = "M" } ]
"#;

fn config_with(dir: &std::path::Path, extra: &str) -> modelwatch::config::Config {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndatabase = \"{}\"\n{extra}\n{ONE_MODEL}",
        dir.join("app.db").display()
    );
    config_from(&toml, &[])
}

#[tokio::test]
async fn an_unreadable_secret_key_stops_the_build_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("modelwatch.key"), "not base64 at all!").unwrap();
    let config = config_with(dir.path(), "");
    let error =
        match modelwatch::startup::Application::build(config, modelwatch::clock::Clock::system())
            .await
        {
            Ok(_) => panic!("a service was built with an unreadable secret key"),
            Err(e) => format!("{e:#}"),
        };
    assert!(
        error.contains("loading the key that protects webhook secrets"),
        "{error}"
    );
    // The key file is left as it was: nothing replaced the operator's file.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("modelwatch.key")).unwrap(),
        "not base64 at all!"
    );
}

#[tokio::test]
async fn a_mail_folder_that_cannot_be_created_stops_the_build() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the mail folder should be: creating the folder fails.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let mail = blocker.join("mail");
    let config = config_with(
        dir.path(),
        &format!(
            "[notify]\nemail_transport = \"file\"\nemail_dir = \"{}\"\n",
            mail.display()
        ),
    );
    let error =
        match modelwatch::startup::Application::build(config, modelwatch::clock::Clock::system())
            .await
        {
            Ok(_) => panic!("a service was built with a mail folder that cannot exist"),
            Err(e) => format!("{e:#}"),
        };
    assert!(error.contains("setting up email"), "{error}");
    assert!(error.contains("mail folder"), "{error}");
}
